// A series' own kselftest in our VM, booted for real: upstream's vfio_pci_liveupdate_uapi_test, built from the patched
// tree, run on edu behind intel-iommu, its KTAP nested under the case; plain 7.3's tree has no such test, so it SKIPs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, runDirOf, scratch, topLevel } from './cli.ts';
import { upstreamSeries } from './kernels.ts';
import { validateRunFiles } from '../consumers.ts';

const point = 'kselftest:vfio_pci_liveupdate_uapi_test';

describe.skipIf(!existsSync(upstreamSeries))(`upstream-uapi-selftest on upstream PCI v7 + VFIO v5 (${upstreamSeries})`, () => {
  it('runs the iommufd variant on the device: preserve_device ok, the group and container tests SKIP with their reasons', async () => {
    const dir = scratch();
    const r = await run(['run', 'upstream-uapi-selftest', '--kernel', 'debian:7.3', '--patches', upstreamSeries, '--tap', '--results', dir]);
    const tap = String(r.stdout);
    expect(r.exitCode, `${tap}\n${r.stderr}`).toBe(0);
    expect(topLevel(tap).map((c) => [c.name, c.ok, c.skip])).toEqual([['upstream-uapi-selftest', true, false]]);
    expect(tap).toContain(
      [
        `    # Subtest: ${point}`,
        '        1..3',
        '        ok 1 - vfio_pci_liveupdate_uapi_test.iommufd.preserve_device',
        '        ok 2 - vfio_pci_liveupdate_uapi_test.iommufd.preserve_group_fails # SKIP iommufd-mode does not have group files',
        '        ok 3 - vfio_pci_liveupdate_uapi_test.iommufd.preserve_container_fails # SKIP iommufd-mode does not have container files',
      ].join('\n'),
    );
    expect(tap).toMatch(new RegExp(`^ {4}ok 2 - ${point}( # time=\\d+ms)?$`, 'm'));
    // The agent's own record: the program's KTAP as it printed it, and the device it ran on behind the IOMMU.
    const result = readFileSync(join(runDirOf(dir), 'upstream-uapi-selftest.result.log'), 'utf8');
    expect(result).toMatch(/^ {4}# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:2 error:0$/m);
    expect(readFileSync(join(runDirOf(dir), 'upstream-uapi-selftest.console.log'), 'utf8')).toMatch(/Adding to iommu group/);
    expect(await validateRunFiles(runDirOf(dir))).toEqual([]);
  }, 600_000);

  it('fails with every variant (the control: --append vh.kselftest=<program> drops -v iommufd); the group ones find no /dev/vfio/vfio', async () => {
    const dir = scratch();
    const r = await run(['run', 'upstream-uapi-selftest', '--kernel', 'debian:7.3', '--patches', upstreamSeries, '--append', 'vh.kselftest=vfio_pci_liveupdate_uapi_test', '--tap', '--results', dir]);
    const tap = String(r.stdout);
    expect(r.exitCode, `${tap}\n${r.stderr}`).toBe(1);
    expect(topLevel(tap).map((c) => [c.name, c.ok])).toEqual([['upstream-uapi-selftest', false]]);
    expect(tap).toMatch(new RegExp(`^ {4}not ok 2 - ${point}( # time=\\d+ms)?\n {6}---\n {6}expected: "exit status 0"\n {6}seen: "exit status 1: not ok 1 vfio_pci_liveupdate_uapi_test.vfio_type1_iommu.preserve_device"`, 'm'));
    expect(tap).toMatch(/^ {8}ok 13 - vfio_pci_liveupdate_uapi_test\.iommufd\.preserve_device$/m);
  }, 600_000);
});

describe.runIf(!existsSync(upstreamSeries))('upstream-uapi-selftest on upstream', () => {
  it.skip(`needs ${upstreamSeries} (the workspace's ../shared beside the repo)`, () => {});
});

describe('upstream-uapi-selftest on plain debian:7.3', () => {
  it('SKIPs before booting: the tree has no such kselftest', async () => {
    const dir = scratch();
    const r = await run(['run', 'upstream-uapi-selftest', '--kernel', 'debian:7.3', '--tap', '--results', dir]);
    const tap = String(r.stdout);
    expect(r.exitCode, `${tap}\n${r.stderr}`).toBe(0);
    const why = 'kernel tree debian:7.3 has no kselftest vfio/vfio_pci_liveupdate_uapi_test (no tools/testing/selftests/vfio/vfio_pci_liveupdate_uapi_test.c)';
    expect(topLevel(tap).map((c) => [c.name, c.ok, c.skip])).toEqual([['upstream-uapi-selftest', true, why]]);
    expect(existsSync(join(runDirOf(dir), 'upstream-uapi-selftest.console.log'))).toBe(false);
  }, 120_000);
});
