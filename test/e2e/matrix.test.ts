// The claims matrix on upstream's series, booted for real: which guarantees it gives, each cell an assertion.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, runDirOf, scratch } from './cli.ts';
import { upstreamSeries } from './kernels.ts';
import { validateRunFiles } from '../consumers.ts';


describe.skipIf(!existsSync(upstreamSeries))(`matrix on upstream PCI v7 + VFIO v5 (${upstreamSeries})`, () => {
  it('places it claim by claim: the fd crosses when userspace binds vfio-pci, but neither only VFIO nor kept running', async () => {
    const dir = scratch();
    const r = await run(['matrix', '--kernel', 'debian:7.3', '--patches', upstreamSeries, '--results', dir]);
    const md = String(r.stdout);
    expect(r.exitCode, `${md}\n${r.stderr}`).toBe(0);
    expect(md).toMatch(/^\| `memfd-preserve` \| ok \|$/m);
    expect(md).toMatch(/^\| `vfio-preserve` \| ok \|$/m);
    expect(md).toMatch(/^\| `vfio-reserve` \| not ok: vfio-handover: stage2\/device_driver_before_userspace \(no driver\) \|$/m);
    expect(md).toMatch(/^\| `vfio-running` \| not ok: vfio-handover: stage2\/bus_master_before_open \(PCI_COMMAND 0x0400\) \|$/m);
    const m = JSON.parse(readFileSync(join(runDirOf(dir), 'matrix.json'), 'utf8'));
    expect(m.kernels).toEqual([{ id: 'debian:7.3+vfio-pci-lu-v5', spec: 'debian:7.3', patches: upstreamSeries }]);
    expect(m.cells.find((c: { claim: string }) => c.claim === 'vfio-running')).toMatchObject({ mode: 'noiommu', status: 'not ok', seen: 'PCI_COMMAND 0x0400' });
    expect(readFileSync(join(runDirOf(dir), 'matrix.html'), 'utf8')).toMatch(/<td style="background:#f8d0d0">not ok: vfio-handover/);
    expect(await validateRunFiles(runDirOf(dir))).toEqual([]);
  }, 600_000);
});

describe.runIf(!existsSync(upstreamSeries))('matrix on upstream', () => {
  it.skip(`needs ${upstreamSeries} (the workspace's ../shared beside the repo)`, () => {});
});
