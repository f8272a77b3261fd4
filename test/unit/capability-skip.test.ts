// Capability SKIPs before booting: the config of every kernel a case boots, the next kernel's included.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import boot from '../../cases/boot.ts';
import luoDmaBuffer from '../../cases/luo-dma-buffer.ts';
import { missingCapability } from '../../harness/run-case.ts';
import type { Kernel } from '../../harness/kernel/build.ts';

const realConfig = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'kernel-7.3.4.config'), 'utf8');

/** A prebuilt kernel whose config is the recorded one, edited. */
function kernelWith(spec: string, edit: (config: string) => string = (c) => c): Kernel {
  const config = join(mkdtempSync(join(tmpdir(), 'vh-unit-')), 'config');
  writeFileSync(config, edit(realConfig));
  return { spec, version: 'prebuilt', bzImage: '/nonexistent/bzImage', config, headers: '/nonexistent', key: spec };
}

const noLuo = (c: string) => c.replace('CONFIG_LIVEUPDATE=y', '# CONFIG_LIVEUPDATE is not set');
const noNoiommu = (c: string) => c.replace('CONFIG_VFIO_NOIOMMU=y', '# CONFIG_VFIO_NOIOMMU is not set');

describe('missingCapability', () => {
  it('runs a kexec case when both kernels have what it needs', () => {
    expect(missingCapability(luoDmaBuffer, kernelWith('image:first'), kernelWith('image:next'))).toBeUndefined();
  });

  it('skips a kexec case whose next kernel lacks LUO, naming it as the next kernel', () => {
    expect(missingCapability(luoDmaBuffer, kernelWith('image:first'), kernelWith('image:next', noLuo))).toBe(
      'next kernel (image:next) config lacks capability: CONFIG_LIVEUPDATE=y requested by kernels/fragments/liveupdate.config did not land (the kernel has n)',
    );
  });

  it('skips a kexec case whose next kernel lacks no-IOMMU mode', () => {
    expect(missingCapability(luoDmaBuffer, kernelWith('image:first'), kernelWith('image:next', noNoiommu))).toMatch(
      /^next kernel \(image:next\) config lacks capability: CONFIG_VFIO_NOIOMMU=y /,
    );
  });

  it('names the first kernel when it lacks the capability itself', () => {
    expect(missingCapability(luoDmaBuffer, kernelWith('image:first', noLuo), kernelWith('image:next'))).toMatch(/^kernel config lacks capability: CONFIG_LIVEUPDATE=y /);
  });

  it('ignores the next kernel for a case that never kexecs', () => {
    expect(missingCapability(boot, kernelWith('image:first'), kernelWith('image:next', (c) => c.replace(/^CONFIG_PCI=y$/m, '')))).toBeUndefined();
  });
});
