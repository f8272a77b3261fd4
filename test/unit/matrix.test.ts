// The claims matrix from recorded real runs: each claim placed by the assertions that stand for it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { allAssertions, type Case } from '../../cases/case.ts';
import { claimOfAssertion, claimsTable, splitQualified } from '../../cases/claims.ts';
import { allCases } from '../../cases/index.ts';
import { claims, type Claim } from '../../kernels/capabilities.ts';
import { matrixColumns } from '../../harness/commands/matrix.ts';
import type { ParsedToken } from '../../harness/commands/options.ts';
import { kernelCells, matrixHtml, matrixMarkdown, matrixRows } from '../../harness/matrix.ts';
import { judge, skipped } from '../../harness/verdict.ts';
import { withFailed } from './ktap-edit.ts';
import { exit0, fx } from './fixtures.ts';

const byName = (n: string) => allCases.find((c) => c.name === n)!;

/** Recorded runs of one kernel: fixture folder by case, optionally one assertion turned not ok. */
function runs(folders: Record<string, string>, failed?: { case: string; name: string; stage: number }) {
  return Object.entries(folders).map(([name, dir]) => {
    const c = byName(name);
    let lines = fx(dir, `${name}.result.log`).split('\n');
    if (failed?.case === name) lines = withFailed(lines, failed.name, failed.stage);
    return { c, r: judge(c, { resultLines: lines, console: fx(dir, `${name}.console.log`), exit: exit0 }) };
  });
}

const on73 = { 'luo-dma-buffer': 'luo-dma-buffer-7.3', 'memfd-chain': 'memfd-chain-7.3', 'only-vfio': 'only-vfio-7.3', boot: 'boot-7.3' };
const onReference = {
  'vfio-handover': 'vfio-handover-reference',
  'iommufd-handover': 'iommufd-handover-reference',
  'kexec-chain': 'kexec-chain-reference',
  'only-vfio': 'only-vfio-handover',
  'nvme-handover': 'nvme-handover-reference',
};
const status = (cells: ReturnType<typeof kernelCells>) => Object.fromEntries(cells.map((c) => [c.claim, c.status]));

describe('claims', () => {
  it("is README's claims table, row for row", () => {
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const table = /<!-- claims:begin -->\n([^]*?)\n<!-- claims:end -->/.exec(readme)?.[1];
    expect(table?.split('\n')).toEqual(claimsTable(allCases, claims));
  });

  it('puts every assertion of every case in exactly one claim, and every claim is asserted somewhere', () => {
    const used = new Set<Claim>();
    for (const c of allCases) for (const q of allAssertions(c)) used.add(claimOfAssertion(c, splitQualified(q).stage, splitQualified(q).name));
    expect([...used].sort()).toEqual(Object.keys(claims).sort());
  });

  it('keeps only VFIO and kept-running apart from the fd crossing', () => {
    const h = byName('only-vfio') as Case;
    expect(claimOfAssertion(h, 2, 'native_driver_never_probed')).toBe('vfio-reserve');
    expect(claimOfAssertion(h, 2, 'not_reset')).toBe('vfio-running');
    expect(claimOfAssertion(h, 2, 'retrieve_device_fd')).toBe('vfio-preserve');
    expect(claimOfAssertion(byName('luo-dma-buffer'), 2, 'dma_resumes')).toBe('memfd-preserve');
    expect(claimOfAssertion(byName('vfio-handover'), 2, 'dma_resumes')).toBe('vfio-running');
    expect(claimOfAssertion(byName('noiommu-dma'), 1, 'get_pa_every_page')).toBe('noiommu');
  });
});

describe('--require a claim', () => {
  it('fails every SKIP of an assertion that stands for it, whatever claim the kernel refused', () => {
    const c = byName('only-vfio');
    const obs = { resultLines: fx('only-vfio-7.3', 'only-vfio.result.log').split('\n'), console: fx('only-vfio-7.3', 'only-vfio.console.log'), exit: exit0 };
    expect(judge(c, obs).status).toBe('skip');
    const r = judge(c, obs, { require: ['vfio-running'] });
    expect(r.status).toBe('fail');
    const failed = r.assertions.filter((a) => !a.ok).map((a) => a.name);
    expect(failed).toEqual(['stage2/bus_master_before_open', 'stage2/bus_master_kept', 'stage2/not_reset']);
    expect(r.assertions.find((a) => a.name === 'stage2/not_reset')?.diag).toMatchObject({ expected: 'the kernel claims vfio-running (--require vfio-running)', phase: 'require' });
  });
});

describe('matrix cells', () => {
  it('places 7.3: memfd-preserve ok, every vfio claim SKIPs with the errno the kernel gave', () => {
    const cells = kernelCells('7.3', runs(on73));
    expect(status(cells)).toMatchObject({ noiommu: 'ok', 'memfd-preserve': 'ok', 'vfio-preserve': 'skip', 'vfio-reserve': 'skip', 'vfio-running': 'skip' });
    expect(cells.find((c) => c.claim === 'vfio-reserve')?.reason).toMatch(/^vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT/);
  });

  it('places the reference series: every vfio claim ok, iommufd-preserve SKIP', () => {
    expect(status(kernelCells('ref', runs(onReference)))).toMatchObject({
      'memfd-preserve': 'ok', 'vfio-preserve': 'ok', 'vfio-reserve': 'ok', 'vfio-running': 'ok', 'iommufd-preserve': 'skip',
    });
  });

  it('places upstream PCI v7 + VFIO v5: the fd crosses under its binding protocol, but neither only VFIO nor kept running', () => {
    const upstream = Object.fromEntries(['vfio-handover', 'only-vfio', 'kexec-chain', 'luo-dma-buffer', 'nvme-handover'].map((n) => [n, 'upstream-lu-v5']));
    const cells = kernelCells('upstream', runs(upstream));
    expect(status(cells)).toMatchObject({ 'memfd-preserve': 'ok', 'vfio-preserve': 'ok', 'vfio-reserve': 'not ok', 'vfio-running': 'not ok' });
    expect(cells.find((c) => c.claim === 'vfio-reserve')).toMatchObject({ assertion: 'vfio-handover: stage2/device_driver_before_userspace', seen: 'no driver' });
    expect(cells.find((c) => c.claim === 'vfio-running')).toMatchObject({ assertion: 'vfio-handover: stage2/bus_master_before_open', seen: 'PCI_COMMAND 0x0400' });
  });

  it('turns only the claim of a failing assertion not ok, naming the assertion and what it saw', () => {
    const cells = kernelCells('ref', runs(onReference, { case: 'only-vfio', name: 'not_reset', stage: 2 }));
    expect(status(cells)).toMatchObject({ 'vfio-preserve': 'ok', 'vfio-reserve': 'ok', 'vfio-running': 'not ok' });
    expect(cells.find((c) => c.claim === 'vfio-running')).toMatchObject({ assertion: 'only-vfio: stage2/not_reset', seen: 'the control' });
  });

  it('places the iommu-mode cases in rows of their own: upstream hands an iommu-mode device over, reset (recorded)', () => {
    const both = runs({ 'vfio-handover': 'upstream-lu-v5', 'iommu-dma': 'iommu-dma-7.3', 'vfio-handover-iommu': 'vfio-handover-iommu-upstream' });
    const cells = kernelCells('upstream', both);
    const at = (claim: string, mode: string) => cells.find((c) => c.claim === claim && c.mode === mode);
    expect(matrixRows(both.map((x) => x.c)).filter((r) => r.mode === 'iommu').map((r) => r.claim)).toEqual(['iommu', 'memfd-preserve', 'vfio-preserve', 'vfio-reserve', 'vfio-running']);
    expect(at('iommu', 'iommu')).toMatchObject({ status: 'ok' });
    expect(at('iommu', 'noiommu')).toBeUndefined();
    expect(at('vfio-preserve', 'iommu')).toMatchObject({ status: 'ok' });
    expect(at('vfio-running', 'iommu')).toMatchObject({ status: 'not ok', assertion: 'vfio-handover-iommu: stage2/bus_master_before_open', seen: 'PCI_COMMAND 0x0400' });
    // The no-IOMMU rows come from the no-IOMMU cases alone.
    expect(at('vfio-running', 'noiommu')).toMatchObject({ status: 'not ok', assertion: 'vfio-handover: stage2/bus_master_before_open' });
    expect(matrixMarkdown({ kernels: [{ id: 'upstream', spec: 'debian:7.3' }], cells })).toMatch(/^\| `vfio-preserve \(iommu\)` \| ok \|$/m);
  });

  it("keeps a kselftest case that SKIPs before booting out of the iommu row: such a case stands, setup included, for its own claim", () => {
    const up = byName('upstream-uapi-selftest');
    expect(allAssertions(up).map((q) => claimOfAssertion(up, 1, q))).toEqual(['vfio-preserve', 'vfio-preserve']);
    const cells = kernelCells('7.3', [...runs({ 'iommu-dma': 'iommu-dma-7.3' }), { c: up, r: skipped(up, 'kernel tree debian:7.3 has no kselftest') }]);
    expect(cells.find((c) => c.claim === 'iommu' && c.mode === 'iommu')).toMatchObject({ status: 'ok' });
    expect(cells.find((c) => c.claim === 'vfio-preserve' && c.mode === 'iommu')).toMatchObject({ status: 'skip', reason: 'kernel tree debian:7.3 has no kselftest' });
  });

  it('places a hang on the claim of the step it stopped at, what ran before it as reported (recorded: the reference series deadlocks in FINISH)', () => {
    const c = byName('lifecycle-unbind-finish');
    const dir = 'lifecycle-unbind-finish-reference';
    const r = judge(c, { resultLines: fx(dir, `${c.name}.result.log`).split('\n'), console: fx(dir, `${c.name}.console.log`), exit: { code: null, signal: 'SIGKILL', stderr: '' }, timeout: { phase: 'case', seconds: 90 } });
    expect(r.status).toBe('error');
    const cells = kernelCells('ref', [{ c, r }]);
    expect(status(cells)).toMatchObject({ noiommu: 'ok', 'memfd-preserve': 'ok', 'vfio-preserve': 'not ok' });
    expect(cells.find((x) => x.claim === 'vfio-preserve')).toMatchObject({ assertion: 'lifecycle-unbind-finish: stage2/luo_finish (error)', seen: 'error: no progress for 90 s in phase case' });
  });

  it('renders Markdown and a self-contained page with every cell', () => {
    const m = { kernels: [{ id: 'a', spec: 'debian:7.3' }], cells: kernelCells('a', runs(on73)) };
    const rows = matrixRows(runs(on73).map((x) => x.c)).length;
    expect(matrixMarkdown(m).split('\n')).toHaveLength(2 + rows);
    expect(matrixMarkdown(m)).toMatch(/^\| `vfio-reserve` \| SKIP vfio-preserve: /m);
    const html = matrixHtml(m, 't');
    expect(html).not.toMatch(/<script|src=|href=/);
    expect(html.match(/<td /g)).toHaveLength(rows);
  });
});

describe('matrix --kernel/--patches', () => {
  const tokens = (args: string[]) =>
    parseArgs({ args, options: { kernel: { type: 'string', multiple: true }, patches: { type: 'string', multiple: true } }, tokens: true }).tokens as ParsedToken[];

  it('gives each --patches to the --kernel before it', () => {
    const cols = matrixColumns(tokens(['--kernel', 'debian:7.3', '--kernel', 'debian:7.3', '--patches', 'test/fixtures/patches-good']));
    expect(cols.map((c) => c.kernel)).toEqual([{ id: 'debian:7.3', spec: 'debian:7.3' }, { id: 'debian:7.3+patches-good', spec: 'debian:7.3', patches: 'test/fixtures/patches-good' }]);
  });

  it('refuses --patches before any --kernel, two for one kernel, and a kernel named twice', () => {
    expect(() => matrixColumns(tokens(['--patches', 'x']))).toThrow(/applies to the --kernel before it/);
    expect(() => matrixColumns(tokens(['--kernel', 'debian:7.3', '--patches', 'test/fixtures/patches-good', '--patches', 'test/fixtures/patches-bad']))).toThrow(/has two --patches/);
    expect(() => matrixColumns(tokens(['--kernel', 'debian:7.3', '--kernel', 'debian:7.3']))).toThrow(/named twice/);
  });
});
