// A series' own kselftest, run by the agent on the case's device: its KTAP nested under one test point, judged test by
// test. Recorded: vfio_pci_liveupdate_uapi_test (iommufd variant) on upstream PCI v7 + VFIO v5, edu behind intel-iommu.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kselftestPoint } from '../../cases/case.ts';
import { allCases } from '../../cases/index.ts';
import { kselftestMissing } from '../../harness/guest/kselftest-build.ts';
import type { Guest } from '../../harness/guest/initramfs.ts';
import type { Kernel } from '../../harness/kernel/build.ts';
import { junitXml } from '../../harness/report/junit.ts';
import { kcidbJson } from '../../harness/report/kcidb.ts';
import { tapCase } from '../../harness/report/tap.ts';
import { kernelCmdline, missingKselftest, runCase, type RunContext } from '../../harness/run-case.ts';
import { hostArch } from '../../harness/qemu/arch.ts';
import { judge, type Observation } from '../../harness/verdict.ts';
import { validateJunit, validateKcidb } from '../consumers.ts';
import { exit0, fx } from './fixtures.ts';

const c = allCases.find((k) => k.name === 'upstream-uapi-selftest')!;
const point = kselftestPoint(c.kselftests![0]!);
const recorded: Observation = {
  resultLines: fx('upstream-uapi-selftest-upstream', 'upstream-uapi-selftest.result.log').split('\n'),
  console: fx('upstream-uapi-selftest-upstream', 'upstream-uapi-selftest.console.log'),
  exit: exit0,
};
/** The recorded stream with one line replaced, as a kernel or a kselftest that behaved otherwise would have written it. */
const edited = (from: RegExp, to: string): Observation => {
  const at = recorded.resultLines.findIndex((l) => from.test(l));
  expect(at, `${from}`).toBeGreaterThanOrEqual(0);
  return { ...recorded, resultLines: recorded.resultLines.map((l, i) => (i === at ? to : l)) };
};
const nestedPreserve = /^ {4}ok 1 vfio_pci_liveupdate_uapi_test\.iommufd\.preserve_device$/;
const parent = new RegExp(`^ok 2 ${point}$`);

describe('a kselftest as a subtest', () => {
  it('passes the recorded upstream run, its three tests nested under the kselftest point with their own verdicts', () => {
    const r = judge(c, recorded);
    expect(r.status, r.reason).toBe('pass');
    const k = r.assertions.find((a) => a.name === point)!;
    expect(k.ok).toBe(true);
    expect(k.subtests?.map((s) => [s.name, s.ok, s.skip])).toEqual([
      ['vfio_pci_liveupdate_uapi_test.iommufd.preserve_device', true, undefined],
      ['vfio_pci_liveupdate_uapi_test.iommufd.preserve_group_fails', true, 'iommufd-mode does not have group files'],
      ['vfio_pci_liveupdate_uapi_test.iommufd.preserve_container_fails', true, 'iommufd-mode does not have container files'],
    ]);
  });

  it('fails the kselftest point when one of its own tests is not ok, even where its exit status said 0', () => {
    const r = judge(c, edited(nestedPreserve, '    not ok 1 vfio_pci_liveupdate_uapi_test.iommufd.preserve_device'));
    expect(r.status).toBe('fail');
    const k = r.assertions.find((a) => a.name === point)!;
    expect(k.ok).toBe(false);
    expect(k.diag).toMatchObject({ phase: 'kselftest', seen: 'exit status 0, but 1 not ok: vfio_pci_liveupdate_uapi_test.iommufd.preserve_device' });
  });

  it('fails it when its KTAP reports fewer tests than it planned', () => {
    const r = judge(c, edited(/^ {4}1\.\.3$/, '    1..4'));
    expect(r.status).toBe('fail');
    expect(r.assertions.find((a) => a.name === point)?.diag).toMatchObject({ expected: 'as many tests as its plan (4)', seen: '3 reported' });
  });

  it('fails it on the exit status the agent reports, whatever its KTAP said', () => {
    const r = judge(c, edited(parent, `not ok 2 ${point}`));
    expect(r.status).toBe('fail');
    expect(r.reason).toContain(point);
  });

  it("SKIPs the case with the kselftest's own reason when it exits with the SKIP status", () => {
    const why = 'open(/dev/liveupdate) failed: No such file or directory, skipping';
    const r = judge(c, edited(parent, `ok 2 ${point} # SKIP ${why}`));
    expect(r.status).toBe('skip');
    expect(r.reason).toBe(why);
  });

  it('fails the recorded run of every variant (--append vh.kselftest=<program>): the group and container ones cannot open /dev/vfio/vfio', () => {
    const all = { ...recorded, resultLines: fx('upstream-uapi-selftest-all-variants', 'upstream-uapi-selftest.result.log').split('\n') };
    const r = judge(c, all);
    expect(r.status).toBe('fail');
    const k = r.assertions.find((a) => a.name === point)!;
    expect(k.diag).toMatchObject({ expected: 'exit status 0', seen: 'exit status 1: not ok 1 vfio_pci_liveupdate_uapi_test.vfio_type1_iommu.preserve_device' });
    expect(k.subtests?.filter((s) => !s.ok).map((s) => s.name.split('.')[1])).toEqual(
      ['vfio_type1_iommu', 'vfio_type1v2_iommu', 'iommufd_compat_type1', 'iommufd_compat_type1v2'].flatMap((v) => [v, v, v]),
    );
    // Its stderr (the lib's assertion) rides along as comments, not as KTAP the parser could misread.
    expect(all.resultLines).toContain('    #   open(/dev/vfio/vfio) failed');
  });

  it('calls a kselftest that crashed or hung an error, never ok', () => {
    const done = recorded.resultLines.findIndex((l) => l.startsWith('# vh agent=done'));
    const lines = [...recorded.resultLines.slice(0, done), `# vh agent=error ${point} Segmentation fault`, ...recorded.resultLines.slice(done)];
    const r = judge(c, { ...recorded, resultLines: lines });
    expect(r.status).toBe('error');
    expect(r.reason).toBe(`agent error ${point} Segmentation fault`);
  });
});

describe('a kselftest in the reports', () => {
  const r = { ...judge(c, recorded), timings: { wall_ms: 1355 } };

  it('nests its tests one level under its point in the TAP stream', () => {
    const tap = tapCase(r, 1);
    const at = tap.indexOf(`    # Subtest: ${point}`);
    expect(tap.slice(at, at + 5)).toEqual([
      `    # Subtest: ${point}`,
      '        1..3',
      '        ok 1 - vfio_pci_liveupdate_uapi_test.iommufd.preserve_device',
      '        ok 2 - vfio_pci_liveupdate_uapi_test.iommufd.preserve_group_fails # SKIP iommufd-mode does not have group files',
      '        ok 3 - vfio_pci_liveupdate_uapi_test.iommufd.preserve_container_fails # SKIP iommufd-mode does not have container files',
    ]);
    expect(tap[at + 5]).toMatch(new RegExp(`^ {4}ok 2 - ${point}`));
  });

  it('gives each of its tests a JUnit testcase and a KCIDB test under the point, both valid', async () => {
    const xml = junitXml([r], 'run');
    expect(await validateJunit(xml)).toEqual([]);
    expect(xml).toContain(`classname="vfio_handover.upstream-uapi-selftest.${point}" name="vfio_pci_liveupdate_uapi_test.iommufd.preserve_device"`);
    const ctx = { runId: 'r1', startedAt: '2026-11-27T00:00:00.000Z', kernel: { spec: 'debian:7.3', version: 'v', key: 'k' }, environment: { accel: 'tcg', accelWhy: 'test', qemu: 'QEMU', arch: 'x86_64' } };
    const k = kcidbJson(ctx, [r]) as { tests: { path: string; status: string }[] };
    expect(validateKcidb(k)).toEqual([]);
    expect(k.tests.find((t) => t.path === 'vfio_handover.upstream-uapi-selftest.kselftest_vfio_pci_liveupdate_uapi_test.vfio_pci_liveupdate_uapi_test_iommufd_preserve_group_fails')?.status).toBe('SKIP');
  });
});

describe('a kselftest the kernel tree lacks', () => {
  const plain = { spec: 'debian:7.3', source: join(import.meta.dirname, '..', 'fixtures', 'boot-7.3') } as Kernel;

  it('is named missing, with the path the tree lacks', () => {
    expect(kselftestMissing(plain, c.kselftests![0]!)).toBe(
      'kernel tree debian:7.3 has no kselftest vfio/vfio_pci_liveupdate_uapi_test (no tools/testing/selftests/vfio/vfio_pci_liveupdate_uapi_test.c)',
    );
    expect(kselftestMissing({ spec: 'image:bzImage' } as Kernel, c.kselftests![0]!)).toMatch(/has no source tree/);
  });

  it('SKIPs the case with that reason before any VM starts', async () => {
    const missing = kselftestMissing(plain, c.kselftests![0]!)!;
    const guest: Guest = { initramfs: '/nonexistent', agent: '/nonexistent', next: false, kselftests: [{ program: c.kselftests![0]!.program, missing }] };
    expect(missingKselftest(c, guest)).toBe(missing);
    const ctx = { kernel: plain, guest, qemu: '/nonexistent/qemu' } as unknown as RunContext;
    const r = await runCase(c, ctx);
    expect(r.status).toBe('skip');
    expect(r.reason).toBe(missing);
    expect(r.assertions.every((a) => a.skip === missing)).toBe(true);
  });

  it('tells the agent what to run, arguments before the BDF it appends', () => {
    expect(kernelCmdline(c, [{ model: 'edu', slot: 2, bus: 1 }], hostArch()).split(' ')).toContain('vh.kselftest=vfio_pci_liveupdate_uapi_test,-v,iommufd');
  });
});
