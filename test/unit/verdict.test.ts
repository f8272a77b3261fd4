// The verdict logic, fed real recorded streams (and real streams cut short, as a crash cuts them).
import { describe, expect, it } from 'vitest';
import noiommuDma from '../../cases/noiommu-dma.ts';
import vfioHandoverIommu from '../../cases/vfio-handover-iommu.ts';
import { requiredIn } from '../../cases/claims.ts';
import { allAssertions } from '../../cases/case.ts';
import { judge, parseResultChannel } from '../../harness/verdict.ts';
import { withExtraReport, withoutReport, withoutSplats, withSkip } from './ktap-edit.ts';
import { exit0, fx } from './fixtures.ts';

const passResult = fx('noiommu-dma-pass', 'noiommu-dma.result.log').split('\n');
// Recorded on the two-node VM shape that makes 7.3 WARN in topology_sane at boot.
const passConsole = fx('noiommu-dma-pass', 'noiommu-dma.console.log');
const cleanConsole = withoutSplats(passConsole);
const getPaEnotty = 'kernel lacks IOMMU_IOAS_NOIOMMU_GET_PA: ioctl returned ENOTTY';

describe('judge', () => {
  it('passes a recorded passing run with every declared assertion ok', () => {
    const r = judge(noiommuDma, { resultLines: passResult, console: cleanConsole, exit: exit0 });
    expect(r.status).toBe('pass');
    expect(r.assertions.map((a) => a.name)).toEqual(allAssertions(noiommuDma));
    expect(r.assertions.every((a) => a.ok && !a.skip)).toBe(true);
    expect(r.info.dma_transfers).toBe('32');
  });

  it('calls a result channel cut mid-case an error, not a pass', () => {
    const cut = passResult.slice(0, passResult.findIndex((l) => l.startsWith('ok 9')));
    const r = judge(noiommuDma, { resultLines: cut, console: passConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.phase).toBe('case');
    expect(r.reason).toMatch(/ended before the agent finished/);
  });

  it('fails a run where an assertion the case declares was never reported', () => {
    const dropped = withoutReport(passResult, 'dma_roundtrip_every_page');
    const r = judge(noiommuDma, { resultLines: dropped, console: passConsole, exit: exit0 });
    expect(r.status).toBe('fail');
    const missing = r.assertions.find((a) => a.name === 'dma_roundtrip_every_page');
    expect(missing?.ok).toBe(false);
    expect(missing?.diag?.seen).toBe('missing');
  });

  it('fails on an assertion the case does not declare', () => {
    const extra = withExtraReport(passResult, 'smuggled_in');
    const r = judge(noiommuDma, { resultLines: extra, console: passConsole, exit: exit0 });
    expect(r.status).toBe('fail');
    expect(r.assertions.find((a) => a.name === 'smuggled_in')?.ok).toBe(false);
  });

  it('turns a real kernel panic on the console into an error with the excerpt from the panic line', () => {
    const r = judge(noiommuDma, { resultLines: [], console: fx('panic-no-rootfs', 'console.log'), exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(/Kernel panic - not syncing: VFS: Unable to mount root fs/);
    expect(r.excerpt?.split('\n')[0]).toMatch(/^Kernel panic/);
  });

  it('names the phase of a timeout', () => {
    const r = judge(noiommuDma, { resultLines: passResult.slice(0, 5), console: passConsole, timeout: { phase: 'case', seconds: 90 } });
    expect(r.status).toBe('error');
    expect(r.reason).toBe('no progress for 90 s in phase case');
  });

  it('calls a test point lost in transit a lost line, naming its number', () => {
    const lost = passResult.filter((l) => !/^ok \d+ ioas_alloc$/.test(l));
    const r = judge(noiommuDma, { resultLines: lost, console: passConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.reason).toBe('the result channel lost test point(s) 5 of stage 1');
  });

  it('reports QEMU that never started as a MISS with its own words', () => {
    const r = judge(noiommuDma, { resultLines: [], console: '', exit: { code: 1, signal: null, stderr: "qemu-system-x86_64: -device nosuch: 'nosuch' is not a valid device model name\n" } });
    expect(r.status).toBe('miss');
    expect(r.phase).toBe('qemu-start');
    expect(r.reason).toMatch(/not a valid device model name/);
  });

  it('skips a whole case with the kernel\'s reason when the guest lacks the capability', () => {
    const lines = fx('noiommu-off', 'noiommu-dma.result.log').split('\n');
    const r = judge(noiommuDma, { resultLines: lines, console: '', exit: exit0 });
    expect(r.status).toBe('skip');
    expect(r.reason).toBe('vfio.enable_unsafe_noiommu_mode is off in this boot');
  });
});

describe('no vacuous ok', () => {
  it('skips, not passes, a run where some assertions ran and the rest SKIPped (GET_PA refused with ENOTTY)', () => {
    const lines = withSkip(passResult, 'get_pa_every_page', getPaEnotty, { rest: true });
    const r = judge(noiommuDma, { resultLines: lines, console: cleanConsole, exit: exit0 });
    expect(r.status).toBe('skip');
    expect(r.reason).toBe(getPaEnotty);
    expect(r.assertions.find((a) => a.name === 'ioas_map')).toMatchObject({ ok: true });
    expect(r.assertions.find((a) => a.name === 'sandbox_no_refusals')).toMatchObject({ ok: true, skip: getPaEnotty });
  });

  it('names every distinct missing capability in the case\'s SKIP reason', () => {
    const off = 'vfio.enable_unsafe_noiommu_mode is off in this boot';
    const lines = withSkip(withSkip(passResult, 'get_pa_every_page', getPaEnotty, { rest: true }), 'taint_user_set', off);
    const r = judge(noiommuDma, { resultLines: lines, console: cleanConsole, exit: exit0 });
    expect(r.status).toBe('skip');
    expect(r.reason).toBe(`${off}; ${getPaEnotty}`);
  });

  it('calls a test point name reported twice in a stage an error naming it, not the first report\'s verdict', () => {
    const twice = withExtraReport(passResult, 'ioas_map');
    const r = judge(noiommuDma, { resultLines: twice, console: cleanConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.phase).toBe('case');
    expect(r.reason).toBe('the agent reported ioas_map twice in stage 1: "ok 20 ioas_map"');
  });

  it('fails a run whose console has a kernel WARNING splat, with the whole splat in the diagnostic', () => {
    const r = judge(noiommuDma, { resultLines: passResult, console: passConsole, exit: exit0 });
    expect(r.status).toBe('fail');
    expect(r.reason).toBe('1 assertion(s) failed: kernel_warnings');
    const w = r.assertions.find((a) => a.name === 'kernel_warnings');
    expect(w?.ok).toBe(false);
    expect(w?.diag?.seen).toBe('1 splat(s): WARNING: arch/x86/kernel/smpboot.c:329 at topology_sane.isra.0+0x48/0x60, CPU#1: swapper/1/0');
    const excerpt = String(w?.diag?.excerpt).split('\n');
    expect(excerpt[0]).toBe('------------[ cut here ]------------');
    expect(excerpt.at(-1)).toBe('---[ end trace 0000000000000000 ]---');
    expect(excerpt).toContain(' set_cpu_sibling_map+0x19f/0x730');
  });

  it('passes that run when the allowlist names its splat, and says which and why', () => {
    const allowWarnings = [{ pattern: /at topology_sane\b/, reason: 'two-node VM shape, not the kernel under test' }];
    const r = judge(noiommuDma, { resultLines: passResult, console: passConsole, exit: exit0 }, { allowWarnings });
    expect(r.status, r.reason).toBe('pass');
    expect(r.assertions.map((a) => a.name)).toEqual(allAssertions(noiommuDma));
    expect(r.info.kernel_warnings_allowed).toMatch(/^WARNING: arch\/x86\/kernel\/smpboot\.c:329 .* \(two-node VM shape, not the kernel under test\)$/);
  });
});

describe('parseResultChannel', () => {
  it('keeps YAML diagnostics of a not ok line and the agent facts', () => {
    const p = parseResultChannel([
      '# vh agent=start stage=1',
      'KTAP version 1',
      '1..1',
      'not ok 1 ioas_map',
      '  ---',
      '  expected: "IOMMU_IOAS_MAP of a memfd-backed buffer"',
      '  seen: "16 pages failed"',
      '  errno: 12',
      '  phase: map',
      '  ...',
      '# vh agent=done stage=1 exit=1',
    ]);
    expect(p.asserts[0]).toMatchObject({ name: 'ioas_map', ok: false, diag: { errno: 12, phase: 'map' } });
    expect(p.agent).toEqual(['start stage=1', 'done stage=1 exit=1']);
  });
});

describe('--require in a mode', () => {
  const observed = () => ({
    resultLines: fx('vfio-handover-iommu-7.3', 'vfio-handover-iommu.result.log').split('\n'),
    console: fx('vfio-handover-iommu-7.3', 'vfio-handover-iommu.console.log'),
    exit: exit0,
  });

  it('reads a bare claim as no-IOMMU mode, CLAIM@iommu as iommu mode, and iommu as iommu mode', () => {
    expect(requiredIn(['vfio-preserve', 'vfio-running@iommu', 'iommu'], 'noiommu')).toEqual(['vfio-preserve']);
    expect(requiredIn(['vfio-preserve', 'vfio-running@iommu', 'iommu'], 'iommu')).toEqual(['vfio-running', 'iommu']);
  });

  it("turns 7.3's SKIP of vfio-handover-iommu (recorded) into a failure only under --require vfio-preserve@iommu", () => {
    expect(judge(vfioHandoverIommu, observed()).status).toBe('skip');
    expect(judge(vfioHandoverIommu, observed(), { require: ['vfio-preserve'] }).status).toBe('skip');
    const r = judge(vfioHandoverIommu, observed(), { require: ['vfio-preserve@iommu'] });
    expect(r.status).toBe('fail');
    expect(r.assertions.find((a) => a.name === 'stage1/preserve_device_fd')?.diag).toMatchObject({ expected: 'the kernel claims vfio-preserve (--require vfio-preserve@iommu)', phase: 'require' });
  });
});
