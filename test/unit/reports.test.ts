// JUnit and KCIDB from verdicts judged on real recorded runs, checked as their consumers check them.
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import noiommuDma from '../../cases/noiommu-dma.ts';
import onlyVfio from '../../cases/only-vfio.ts';
import { allAssertions } from '../../cases/case.ts';
import { judge } from '../../harness/verdict.ts';
import { junitXml } from '../../harness/report/junit.ts';
import { kcidbJson, type KcidbContext } from '../../harness/report/kcidb.ts';
import type { CaseResult } from '../../harness/verdict.ts';
import { validateJunit, validateKcidb } from '../consumers.ts';
import { exit0, fx, recordedVerdicts } from './fixtures.ts';
import { withoutSplats } from './ktap-edit.ts';

// The recorded console without its boot WARNING splat, which would fail the case.
const pass = judge(noiommuDma, {
  resultLines: fx('noiommu-dma-pass', 'noiommu-dma.result.log').split('\n'),
  console: withoutSplats(fx('noiommu-dma-pass', 'noiommu-dma.console.log')),
  exit: exit0,
  timings: { wall_ms: 7431 },
});
const skip = judge(onlyVfio, { resultLines: fx('only-vfio-7.3', 'only-vfio.result.log').split('\n'), console: '', exit: exit0 });
const panic = { ...judge(noiommuDma, { resultLines: [], console: fx('panic-no-rootfs', 'console.log'), exit: exit0 }), case: 'panicked' };

describe('JUnit', () => {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(junitXml([pass, skip, panic], 'run'));
  const suites = doc.testsuites.testsuite as Record<string, unknown>[];
  const cases = (i: number) => [suites[i]!.testcase].flat() as Record<string, unknown>[];

  it('has a testsuite per case and a testcase per assertion', () => {
    expect(suites.map((s) => s.name)).toEqual(['noiommu-dma', 'only-vfio', 'panicked']);
    expect(cases(0)).toHaveLength(allAssertions(noiommuDma).length);
    expect(suites[0]).toMatchObject({ tests: String(allAssertions(noiommuDma).length), failures: '0', errors: '0', time: '7.431' });
  });

  it('marks a refused claim as skipped with the kernel\'s errno', () => {
    const skipped = cases(1).filter((c) => c.skipped);
    expect(skipped.length).toBeGreaterThan(0);
    expect((skipped[0]!.skipped as { message: string }).message).toMatch(/^vfio-preserve: .*returned ENOENT/);
  });

  it('reports a panic as an error testcase carrying the console excerpt', () => {
    const err = cases(2).find((c) => c.error) as { error: { message: string; type: string; '#text': string } };
    expect(err.error.type).toBe('error');
    expect(err.error.message).toMatch(/^guest crashed: Kernel panic - not syncing: VFS: Unable to mount root fs/);
    expect(err.error['#text']).toMatch(/^Kernel panic/);
  });
});

const ctx: KcidbContext = {
  runId: 'r1',
  startedAt: '2026-11-25T00:00:00.000Z',
  kernel: { spec: 'debian:7.3', version: '7.3.4-1~bpo13+1', key: 'k', release: '7.3.4', configHash: 'abc' },
  environment: { accel: 'tcg', accelWhy: 'test', qemu: 'QEMU 7.2', arch: 'x86_64' },
};

describe('KCIDB v5', () => {
  const k = kcidbJson(ctx, [pass, skip, panic]) as { version: { major: number }; checkouts: { id: string }[]; builds: { id: string; checkout_id: string }[]; tests: Record<string, any>[] };
  const byPath = (p: string) => k.tests.find((t) => t.path === p);

  it('links tests to the build and the build to the checkout, with origin-prefixed ids', () => {
    expect(k.version.major).toBe(5);
    expect(k.builds[0]!.checkout_id).toBe(k.checkouts[0]!.id);
    expect(new Set(k.tests.map((t) => t.id)).size).toBe(k.tests.length);
    for (const t of k.tests) expect(t.id.startsWith(`${t.origin}:`)).toBe(true);
  });

  it('maps verdicts to KCIDB statuses and keeps timings as numbers', () => {
    expect(byPath('vfio_handover.noiommu-dma')?.status).toBe('PASS');
    expect(byPath('vfio_handover.noiommu-dma.dma_roundtrip_every_page')?.status).toBe('PASS');
    expect(byPath('vfio_handover.only-vfio')?.status).toBe('SKIP');
    expect(byPath('vfio_handover.only-vfio.stage1.preserve_device_fd')?.status).toBe('SKIP');
    expect(byPath('vfio_handover.panicked')?.status).toBe('ERROR');
    expect(byPath('vfio_handover.panicked')?.log_excerpt).toMatch(/Kernel panic/);
    expect(byPath('vfio_handover.noiommu-dma.timing.wall_ms')).toMatchObject({ status: 'DONE', number: { value: 7431, unit: 'ms' } });
  });
});

describe('what the consumers accept', () => {
  const all = recordedVerdicts();
  /** The panic again, its console excerpt grown past KCIDB's limit and carrying what XML and KCIDB cannot hold. */
  const dirty: CaseResult = { ...panic, case: 'dirty', excerpt: `${panic.excerpt}\0\x1b[0m\x01\ud800${'x'.repeat(20000)}` };

  it('has a recorded verdict of every status to check', () => {
    expect(new Set(all.map((r) => r.status))).toEqual(new Set(['pass', 'skip', 'fail', 'error', 'miss']));
  });

  it('writes KCIDB that kcidb-io\'s v5.3 schema accepts exactly, for every status', () => {
    const k = kcidbJson(ctx, [...all, dirty]) as { tests: { status: string; log_excerpt?: string }[] };
    expect(validateKcidb(k)).toEqual([]);
    expect(new Set(k.tests.map((t) => t.status))).toEqual(new Set(['PASS', 'SKIP', 'FAIL', 'ERROR', 'MISS', 'DONE']));
    expect(Math.max(...k.tests.map((t) => [...(t.log_excerpt ?? '')].length))).toBe(16384);
  });

  it('has a KCIDB validator that rejects what kcidb-io rejects: a v4 build with `valid`', () => {
    const k = kcidbJson(ctx, all) as { builds: Record<string, unknown>[] };
    const v4 = { ...k, builds: [{ ...k.builds[0], valid: true }] };
    expect(validateKcidb(v4)).toEqual([expect.stringMatching(/^\/builds\/0 must NOT have additional properties .*"valid"/)]);
  });

  it('writes JUnit that Jenkins\' junit-10.xsd accepts, for every status', async () => {
    expect(await validateJunit(junitXml([...all, dirty], 'run'))).toEqual([]);
  });

  it('has a JUnit validator that rejects what the xsd rejects: a skipped count on testsuites', async () => {
    const xml = junitXml(all, 'run').replace('<testsuites ', '<testsuites skipped="1" ');
    expect(await validateJunit(xml)).toEqual([expect.stringMatching(/attribute 'skipped' is not allowed/)]);
  });
});
