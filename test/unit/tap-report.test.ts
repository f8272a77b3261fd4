// The TAP we print must read back, through the same parser CI uses, as what we meant.
import { Parser } from 'tap-parser';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import noiommuDma from '../../cases/noiommu-dma.ts';
import { judge, type CaseResult } from '../../harness/verdict.ts';
import { tapCase, tapHeader } from '../../harness/report/tap.ts';
import { withoutReport } from './ktap-edit.ts';
import { exit0, fx, recordedVerdicts } from './fixtures.ts';

function parse(text: string) {
  const asserts: { ok: boolean; name: string; skip: unknown; diag: unknown }[] = [];
  const failures: unknown[] = [];
  const p = new Parser({ passes: true });
  p.on('assert', (a) => asserts.push(a));
  p.on('fail', (f) => failures.push(f));
  let final: { ok: boolean; count: number; fail: number } | undefined;
  p.on('complete', (r) => (final = r));
  p.end(text);
  return { asserts, failures, final: final! };
}

const stream = (results: CaseResult[]) => [...tapHeader(results.length), ...results.flatMap((r, i) => tapCase(r, i + 1))].join('\n') + '\n';

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

describe('TAP 14 diagnostics', () => {
  const panic = judge(noiommuDma, { resultLines: [], console: fx('panic-no-rootfs', 'console.log'), exit: exit0 });
  // From the call trace on: its first line, ' <TASK>', starts with a space, as a kernel stack does.
  const consoleTrace = panic.excerpt!.slice(panic.excerpt!.indexOf('\n <TASK>') + 1);
  // The serial console ends lines with CRLF; YAML reads every line break as LF.
  const trace = consoleTrace.replace(/\r\n/g, '\n');

  it('reads back every recorded verdict as one test point each, not ok only for fail, error and miss', () => {
    const all = recordedVerdicts();
    const { asserts, final } = parse(stream(all));
    expect(final.count).toBe(all.length);
    expect(asserts.map((a) => a.ok)).toEqual(all.map((r) => r.status === 'pass' || r.status === 'skip'));
  });

  it('carries an excerpt whose first line starts with spaces through tap-parser unchanged', () => {
    expect(trace).toMatch(/^ <TASK>\n dump_stack_lvl/);
    const { asserts, failures } = parse(stream([{ ...panic, excerpt: consoleTrace }]));
    expect(failures).toHaveLength(1);
    expect(asserts[0]?.diag).toMatchObject({ severity: 'error', phase: 'boot', excerpt: trace });
  });

  it('writes a diagnostic block that is a YAML document on its own', () => {
    const text = tapCase({ ...panic, excerpt: consoleTrace }, 1).join('\n');
    expect(text).toMatch(/^ {2}excerpt: \|\d?-\n {5}<TASK>$/m);
    const block = /\n {2}---\n([^]*?)\n {2}\.\.\./.exec(text)![1]!;
    expect(parseYaml(block.replace(/^ {2}/gm, ''))).toEqual({ severity: 'error', reason: panic.reason, phase: 'boot', excerpt: trace });
  });

  it("hides kunit.py's end-of-output markers (a VFS panic) from it, and reads back unchanged", () => {
    const vfs = recordedVerdicts().find((r) => /not syncing: VFS:/.test(r.reason ?? ''))!;
    const text = tapCase(vfs, 1).join('\n');
    // kunit_parser.py's KTAP_END, searched anywhere in every line: one hit and it stops reading the file.
    expect(text).not.toMatch(/\s*(List of all partitions:|Kernel panic - not syncing: VFS:|reboot: System halted)/);
    const { asserts } = parse(stream([vfs]));
    expect(asserts[0]?.diag).toMatchObject({ reason: vfs.reason, excerpt: vfs.excerpt!.replace(/\r\n/g, '\n') });
  });
});
