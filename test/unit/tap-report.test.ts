// The TAP we print must read back, through the same parser CI uses, as what we meant.
import { Parser } from 'tap-parser';
import { describe, expect, it } from 'vitest';
import noiommuDma from '../../cases/noiommu-dma.ts';
import { judge } from '../../harness/verdict.ts';
import { tapCase, tapHeader } from '../../harness/report/tap.ts';
import { withoutReport } from './ktap-edit.ts';
import { fx } from './fixtures.ts';


function parse(text: string) {
  const asserts: { ok: boolean; name: string; skip: unknown; diag: unknown }[] = [];
  const p = new Parser({ passes: true });
  p.on('assert', (a) => asserts.push(a));
  let final: { ok: boolean; count: number; fail: number } | undefined;
  p.on('complete', (r) => (final = r));
  p.end(text);
  return { asserts, final: final! };
}

describe('TAP 14 report', () => {
  it('prints a failing case as not ok with its failing assertion inside the subtest', () => {
    const lines = fx('noiommu-dma-pass', 'noiommu-dma.result.log').split('\n');
    const lines2 = withoutReport(lines, 'get_pa_unmapped_enoent');
    const r = judge(noiommuDma, { resultLines: lines2, console: '', exit: { code: 0, signal: null, stderr: '' } });
    const text = [...tapHeader(1), ...tapCase(r, 1)].join('\n') + '\n';
    const { asserts, final } = parse(text);
    expect(final.ok).toBe(false);
    expect(asserts).toHaveLength(1);
    expect(asserts[0]).toMatchObject({ ok: false, name: 'noiommu-dma' });
    expect(text).toMatch(/^ {4}not ok \d+ - get_pa_unmapped_enoent$/m);
    expect(text).toMatch(/^ {6}seen: "missing"$/m);
  });

  it('prints a skipped case as a SKIP directive carrying the reason', () => {
    const lines = fx('noiommu-off', 'noiommu-dma.result.log').split('\n');
    const r = judge(noiommuDma, { resultLines: lines, console: '', exit: { code: 0, signal: null, stderr: '' } });
    const { asserts, final } = parse([...tapHeader(1), ...tapCase(r, 1)].join('\n') + '\n');
    expect(final.ok).toBe(true);
    expect(asserts[0]?.skip).toBe('vfio.enable_unsafe_noiommu_mode is off in this boot');
  });
});
