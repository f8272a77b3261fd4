// Fragments and the config check, against the .config a real build of ours produced.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allFragments, describeMiss, fragmentsHash, missingSymbols, parseConfig } from '../../harness/kernel/fragments.ts';

const realConfig = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'kernel-7.3.4.config'), 'utf8');

describe('config check', () => {
  it('finds every fragment symbol in the config our build produced', () => {
    expect(missingSymbols(parseConfig(realConfig), allFragments())).toEqual([]);
  });

  it('names the symbol and its fragment when one did not land', () => {
    const broken = realConfig.replace('CONFIG_VFIO_NOIOMMU=y', '# CONFIG_VFIO_NOIOMMU is not set');
    const misses = missingSymbols(parseConfig(broken), allFragments());
    expect(misses).toHaveLength(1);
    expect(describeMiss(misses[0]!)).toBe(
      'CONFIG_VFIO_NOIOMMU=y requested by kernels/fragments/noiommu-iommufd.config did not land (the kernel has n)',
    );
  });

  it('treats a symbol a fragment turns off as landed when it is absent', () => {
    const cfg = parseConfig(realConfig);
    cfg.delete('MODULES');
    expect(missingSymbols(cfg, allFragments()).find((m) => m.symbol === 'MODULES')).toBeUndefined();
  });

  it('changes the cache key when any fragment changes', () => {
    const frags = allFragments();
    const edited = frags.map((f, i) => (i === 0 ? { ...f, text: `${f.text}# edit\n` } : f));
    expect(fragmentsHash(edited)).not.toBe(fragmentsHash(frags));
  });
});
