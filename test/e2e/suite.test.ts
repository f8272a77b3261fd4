// The default suite on the default kernel, in real QEMU: the README's main command.
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { allAssertions } from '../../cases/case.ts';
import { allCases } from '../../cases/index.ts';
import { XMLParser } from 'fast-xml-parser';
import { kunitParse, validateRunFiles } from '../consumers.ts';
import { run, scratch, topLevel, type TopLevel } from './cli.ts';

/** The run folder `results/latest` points at, under a --results root. */
const latestRun = (root: string) => join(root, readlinkSync(join(root, 'latest')));

describe('vfio-handover run (default suite, default Debian 7.3 kernel)', () => {
  let tap = '';
  let exitCode: number | undefined;
  let stderr = '';
  let runDir = '';
  let cases: TopLevel[] = [];

  beforeAll(async () => {
    const dir = scratch();
    const r = await run(['run', '--tap', '--results', dir]);
    tap = String(r.stdout);
    stderr = String(r.stderr);
    exitCode = r.exitCode;
    runDir = latestRun(dir);
    cases = topLevel(tap);
  }, 600_000);

  const subtest = (name: string) => {
    const from = tap.indexOf(`# Subtest: ${name}\n`);
    return tap.slice(from, tap.indexOf(`- ${name}`, from));
  };

  it('exits 0 with one TAP 14 stream, a test point per case', () => {
    expect(exitCode, stderr).toBe(0);
    expect(tap.startsWith('TAP version 14\n')).toBe(true);
    expect(cases.map((c) => c.name)).toEqual(allCases.map((c) => c.name));
  });

  it('passes noiommu-dma with every assertion its own ok test point', () => {
    const c = allCases.find((k) => k.name === 'noiommu-dma')!;
    expect(cases.find((k) => k.name === c.name)).toMatchObject({ ok: true, skip: false });
    allAssertions(c).forEach((name, i) => expect(subtest(c.name)).toMatch(new RegExp(`^ {4}ok ${i + 1} - ${name}( # time=\\d+ms)?$`, 'm')));
  });

  it("passes iommu-dma behind QEMU's intel-iommu: DMA at IOVAs, and the IOMMU's fault record for a transfer outside the IOAS", () => {
    const c = allCases.find((k) => k.name === 'iommu-dma')!;
    expect(cases.find((k) => k.name === c.name)).toMatchObject({ ok: true, skip: false });
    allAssertions(c).forEach((name, i) => expect(subtest(c.name)).toMatch(new RegExp(`^ {4}ok ${i + 1} - ${name}( # time=\\d+ms)?$`, 'm')));
    expect(subtest(c.name)).toMatch(/^ {4}# info cdev=\/dev\/vfio\/devices\/vfio\d+$/m);
    expect(subtest(c.name)).toMatch(/^ {4}# info iommu_fault=DMAR: \[DMA Write NO_PASID\] Request device \[0000:01:00\.0\] fault addr 0x4100000 /m);
  });

  it('passes luo-dma-buffer and memfd-chain across real kexecs', () => {
    for (const name of ['luo-dma-buffer', 'memfd-chain']) {
      expect(cases.find((k) => k.name === name), name).toMatchObject({ ok: true, skip: false });
      const c = allCases.find((k) => k.name === name)!;
      allAssertions(c).forEach((a, i) => expect(subtest(name)).toMatch(new RegExp(`^ {4}ok ${i + 1} - ${a.replace('/', '\\/')}( # time=\\d+ms)?$`, 'm')));
    }
    expect(subtest('memfd-chain')).toMatch(/^ {4}ok \d+ - stage4\/dma_resumes # time=\d+ms$/m);
    expect(subtest('luo-dma-buffer')).toMatch(/^ {4}# timing blackout1_ms=\d+$/m);
  });

  it('skips vfio-handover, only-vfio, kexec-chain, nvme-handover, dma-across-kexec and the lifecycle cases with the errno 7.3 gives for PRESERVE_FD of a vfio cdev fd', () => {
    for (const name of ['vfio-handover', 'only-vfio', 'kexec-chain', 'nvme-handover', 'dma-across-kexec', 'lifecycle-represerve', 'lifecycle-second-opener', 'lifecycle-abandoned', 'lifecycle-unbind-finish', 'lifecycle-kho-off', 'lifecycle-owner-crash', 'lifecycle-irq-after-freeze', 'lifecycle-pressure-before-map', 'vfio-handover-iommu']) {
      const c = cases.find((k) => k.name === name);
      expect(c?.ok, name).toBe(true);
      expect(String(c?.skip)).toBe('vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT');
    }
    expect(subtest('vfio-handover')).toMatch(/^ {4}ok \d+ - stage2\/memfd_bytes_identical # time=\d+ms$/m);
    expect(subtest('vfio-handover')).not.toMatch(/(preserve|retrieve)_iommufd/);
  });

  it('skips iommufd-handover naming both claims 7.3 refuses, the vfio cdev fd and the iommufd', () => {
    expect(cases.find((k) => k.name === 'iommufd-handover')).toMatchObject({
      ok: true,
      skip: 'vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT; iommufd-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the iommufd returned ENOENT',
    });
    expect(subtest('iommufd-handover')).toMatch(/^ {4}ok \d+ - stage1\/preserve_iommufd # SKIP iommufd-preserve: .* returned ENOENT$/m);
  });

  it("gives a TCG guest the host's TSC rate, so a starved PIT calibration cannot make its clock run fast", () => {
    const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    const console = readFileSync(join(runDir, 'noiommu-dma.console.log'), 'utf8');
    if (meta.accel.name !== 'tcg') return expect(console).not.toMatch(/tsc_early_khz=/);
    const khz = Number(/^Command line: .* tsc_early_khz=(\d+)/m.exec(console)?.[1]);
    expect(console).not.toMatch(/PIT calibration deviates from HPET/);
    // The kernel's own refinement against the HPET agrees with the host's measure to 0.1%.
    const refined = Number(/tsc: Refined TSC clocksource calibration: (\d+\.\d+) MHz/.exec(console)?.[1]) * 1000;
    expect(Math.abs(refined - khz) / khz).toBeLessThan(0.001);
  });

  it('writes the run to results/ as it goes', () => {
    expect(readFileSync(join(runDir, 'report.tap'), 'utf8').trimEnd()).toBe(tap.trimEnd());
    expect(readFileSync(join(runDir, 'noiommu-dma.console.log'), 'utf8')).toMatch(/Adding kernel taint for vfio-noiommu cdev/);
    expect(readFileSync(join(runDir, 'noiommu-dma.result.log'), 'utf8')).toMatch(/^# vh agent=done stage=1 exit=0/m);
    expect(readFileSync(join(runDir, 'luo-dma-buffer.console.log'), 'utf8')).toMatch(/KHO: exec from/);
    const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(['kvm', 'tcg']).toContain(meta.accel.name);
    expect(meta.exitCode).toBe(0);
    expect(readFileSync(join(runDir, 'cases.jsonl'), 'utf8').trim().split('\n')).toHaveLength(allCases.length);
  });

  it('writes JUnit that parses as JUnit, one testsuite per case and one testcase per assertion', () => {
    const xml = readFileSync(join(runDir, 'junit.xml'), 'utf8');
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml);
    const suites = doc.testsuites.testsuite as { name: string; tests: string; skipped: string; testcase: unknown[] }[];
    expect(suites.map((x) => x.name)).toEqual(allCases.map((c) => c.name));
    for (const c of allCases) {
      const suite = suites.find((x) => x.name === c.name)!;
      const testcases = Array.isArray(suite.testcase) ? suite.testcase : [suite.testcase];
      expect(testcases).toHaveLength(allAssertions(c).length);
    }
    expect(Number(suites.find((x) => x.name === 'vfio-handover')!.skipped)).toBeGreaterThan(0);
  });

  it('writes KCIDB v5: checkout, build, and tests with statuses, durations and timing numbers', () => {
    const k = JSON.parse(readFileSync(join(runDir, 'kcidb.json'), 'utf8'));
    expect(k.version.major).toBe(5);
    expect(k.builds[0].checkout_id).toBe(k.checkouts[0].id);
    expect(k.checkouts[0].id).toMatch(/^vfio_handover:/);
    for (const t of k.tests) {
      expect(t.build_id).toBe(k.builds[0].id);
      expect(['PASS', 'FAIL', 'ERROR', 'MISS', 'SKIP', 'DONE']).toContain(t.status);
      expect(t.path).toMatch(/^vfio_handover\./);
    }
    const byPath = (p: string) => k.tests.find((t: { path: string }) => t.path === p);
    expect(byPath('vfio_handover.noiommu-dma').status).toBe('PASS');
    expect(byPath('vfio_handover.vfio-handover').status).toBe('SKIP');
    expect(byPath('vfio_handover.luo-dma-buffer.timing.blackout1_ms').number).toMatchObject({ unit: 'ms' });
    expect(byPath('vfio_handover.noiommu-dma').environment.misc.accelerator).toMatch(/^(kvm|tcg)$/);
  });

  it('writes kcidb.json that kcidb-io\'s v5.3 schema accepts and junit.xml that Jenkins\' junit-10.xsd accepts', async () => {
    expect(await validateRunFiles(runDir)).toEqual([]);
  });

  it('writes report.tap that the kernel\'s own kunit.py parse reads without an error, every assertion a test', async () => {
    const { errors, summary } = await kunitParse(inject('kernelSource'), join(runDir, 'report.tap'));
    expect(errors).toEqual([]);
    const total = allCases.reduce((n, c) => n + allAssertions(c).length, 0);
    expect(summary).toMatch(new RegExp(`^Testing complete\\. Ran ${total} tests: passed: \\d+(, skipped: \\d+)?$`));
  });
});

describe('--require', () => {
  it('turns the vfio-preserve SKIP into not ok and exits 1, in report files their readers still accept', async () => {
    const dir = scratch();
    const r = await run(['run', 'vfio-handover', '--tap', '--results', dir, '--require', 'vfio-preserve']);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const [c] = topLevel(String(r.stdout));
    expect(c).toMatchObject({ ok: false, name: 'vfio-handover' });
    expect(String(r.stdout)).toMatch(/^ {4}not ok \d+ - stage1\/preserve_device_fd( # time=\d+ms)?$/m);
    expect(String(r.stdout)).toMatch(/expected: "the kernel claims vfio-preserve \(--require vfio-preserve\)"/);
    expect(await validateRunFiles(latestRun(dir))).toEqual([]);
    expect((await kunitParse(inject('kernelSource'), join(latestRun(dir), 'report.tap'))).errors).toEqual([]);
  }, 300_000);

  it('refuses a claim nobody knows', async () => {
    const r = await run(['run', '--require', 'teleport']);
    expect(r.exitCode).toBe(2);
    expect(String(r.stderr).trim()).toMatch(/^vfio-handover: unknown claim 'teleport' for --require/);
  });
});
