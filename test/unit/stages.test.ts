// Multi-stage verdicts on real recorded kexec runs, and those runs cut the way a broken kexec cuts them.
import { describe, expect, it } from 'vitest';
import luoDmaBuffer from '../../cases/luo-dma-buffer.ts';
import onlyVfio from '../../cases/only-vfio.ts';
import vfioHandover from '../../cases/vfio-handover.ts';
import iommufdHandover from '../../cases/iommufd-handover.ts';
import { allAssertions } from '../../cases/case.ts';
import { judge, splitStages } from '../../harness/verdict.ts';
import { exit0, fx } from './fixtures.ts';
import { withSkip } from './ktap-edit.ts';

const luoLines = fx('luo-dma-buffer-7.3', 'luo-dma-buffer.result.log').trimEnd().split('\n');
const luoConsole = fx('luo-dma-buffer-7.3', 'luo-dma-buffer.console.log');
const onlyLines = fx('only-vfio-7.3', 'only-vfio.result.log').trimEnd().split('\n');
// Recorded on the reference series (debian:7.3+noiommu-handover).
const onlyHandover = fx('only-vfio-handover', 'only-vfio.result.log').trimEnd().split('\n');
// Recorded when vfio-handover also preserved the iommufd: the stage 1 of today's iommufd-handover. Its refused kexec
// is written as today's agent writes it (a real irq-on run on the reference series): `Bail out! kexec refused: EBUSY`.
const irqOnLines = fx('vfio-handover-irq-on', 'vfio-handover.result.log').trimEnd().split('\n');
const irqOnConsole = fx('vfio-handover-irq-on', 'vfio-handover.console.log');

describe('stages', () => {
  it('passes a recorded two-stage run with stage-qualified assertions', () => {
    const r = judge(luoDmaBuffer, { resultLines: luoLines, console: luoConsole, exit: exit0 });
    expect(r.status).toBe('pass');
    expect(r.assertions.map((a) => a.name)).toEqual(allAssertions(luoDmaBuffer));
    expect(r.info['stage2/pages_stayed_put']).toBe('16/16');
    expect(splitStages(luoLines).map((s) => s.stage)).toEqual([1, 2]);
  });

  it('measures kexec and blackout from the arrival times of the marks', () => {
    const times = luoLines.map((_, i) => i * 10);
    const r = judge(luoDmaBuffer, { resultLines: luoLines, resultTimes: times, console: luoConsole, exit: exit0 });
    const at = (re: RegExp, from = 0) => luoLines.findIndex((l, i) => i >= from && re.test(l)) * 10;
    const stage2 = luoLines.findIndex((l) => l.startsWith('# vh agent=start stage=2'));
    expect(r.timings.blackout1_ms).toBe(at(/^# vh dma_mark=first$/, stage2) - at(/^# vh dma_mark=last$/));
    expect(r.timings.kexec1_ms).toBe(stage2 * 10 - at(/^# vh agent=kexec /));
    expect(r.timings.stage2_boot_to_init_ms).toBeGreaterThan(0);
    expect(r.timings.stage1_kexec_file_load_ms).toBe(Number(r.info['stage1/kexec_file_load_ms']));
  });

  it('names a line lost in the kexec transition', () => {
    // The last line before the kexec marker: lost between the agent and the host.
    const lost = luoLines.filter((l) => !/^1\.\.\d+$/.test(l) || luoLines.indexOf(l) > luoLines.findIndex((x) => x.startsWith('# vh agent=kexec')));
    const r = judge(luoDmaBuffer, { resultLines: lost, console: luoConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.phase).toBe('kexec');
    expect(r.reason).toBe('the kexec after stage 1 lost 1 line(s) of its result channel');
  });

  it('calls a guest that rebooted into stage 1 again an error, not a pass', () => {
    const rebooted = luoLines.map((l) => l.replace('agent=start stage=2', 'agent=start stage=1'));
    const r = judge(luoDmaBuffer, { resultLines: rebooted, console: luoConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(/stage 1 started twice/);
  });

  it('says which stage never started after a kexec', () => {
    const cut = luoLines.slice(0, luoLines.findIndex((l) => l.startsWith('# vh agent=start stage=2')));
    const r = judge(luoDmaBuffer, { resultLines: cut, console: luoConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.reason).toBe('stage 2 never started after the kexec of stage 1');
  });

  it('skips a case whose claim the kernel refused, with the errno in the reason', () => {
    const r = judge(onlyVfio, { resultLines: onlyLines, console: '', exit: exit0 });
    expect(r.status).toBe('skip');
    expect(r.reason).toBe('vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT');
    expect(r.assertions.find((a) => a.name === 'stage1/kexec_file_load')).toMatchObject({ ok: true });
  });

  it('fails that case under --require vfio-preserve, naming the claim', () => {
    const r = judge(onlyVfio, { resultLines: onlyLines, console: '', exit: exit0 }, { require: ['vfio-preserve'] });
    expect(r.status).toBe('fail');
    const a = r.assertions.find((x) => x.name === 'stage1/preserve_device_fd');
    expect(a?.ok).toBe(false);
    expect(a?.diag?.expected).toBe('the kernel claims vfio-preserve (--require vfio-preserve)');
  });

  it('passes only-vfio recorded on the reference series under --require vfio-preserve', () => {
    const r = judge(onlyVfio, { resultLines: onlyHandover, console: fx('only-vfio-handover', 'only-vfio.console.log'), exit: exit0 }, { require: ['vfio-preserve'] });
    expect(r.status, r.reason).toBe('pass');
    expect(r.assertions.map((a) => [a.name, a.ok, a.skip])).toEqual(allAssertions(onlyVfio).map((n) => [n, true, undefined]));
    expect(r.info['stage2/driver_at_start']).toBe('vfio-pci');
  });

  it('reads a kexec the kernel refused as a failure with its errno, not a lost stage', () => {
    const r = judge(iommufdHandover, { resultLines: irqOnLines, console: irqOnConsole, exit: exit0 });
    expect(r.status).toBe('fail');
    const refused = r.assertions.find((a) => a.name === 'stage1/kexec_reboot');
    expect(refused).toMatchObject({ ok: false, diag: { seen: 'the kernel refused the kexec: EBUSY', errname: 'EBUSY', phase: 'kexec' } });
    expect(r.assertions.find((a) => a.name === 'stage1/plan')).toBeUndefined();
    expect(r.assertions.find((a) => a.name === 'stage2/state_crossed_kexec')?.diag?.seen).toBe('stage 2 never started');
  });

  it('still calls a stage lost when the kexec went quiet without the agent saying it was refused', () => {
    const cut = irqOnLines.slice(0, irqOnLines.findIndex((l) => l.startsWith('Bail out!')));
    const r = judge(iommufdHandover, { resultLines: [...cut, '# vh agent=done stage=1 exit=0 uptime_ms=1'], console: irqOnConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.reason).toBe('stage 2 never started after the kexec of stage 1');
  });

  it('reads the refused kexec from the agent\'s Bail out!, after the plan, with its duration', () => {
    const times = irqOnLines.map((_, i) => i * 10);
    const r = judge(iommufdHandover, { resultLines: irqOnLines, resultTimes: times, console: irqOnConsole, exit: exit0 });
    const bail = irqOnLines.findIndex((l) => l === 'Bail out! kexec refused: EBUSY');
    const last = irqOnLines.findIndex((l) => l.startsWith('ok 17 '));
    expect(bail).toBeGreaterThan(irqOnLines.indexOf('1..17'));
    expect(r.assertions.find((a) => a.name === 'stage1/kexec_reboot')).toEqual({
      name: 'stage1/kexec_reboot',
      ok: false,
      diag: { expected: 'reboot(LINUX_REBOOT_CMD_KEXEC) does not return', seen: 'the kernel refused the kexec: EBUSY', errno: 16, errname: 'EBUSY', phase: 'kexec' },
      durationMs: (bail - last) * 10,
    });
  });

  it('calls any other Bail out! the agent giving up on the stage, and a test point after it malformed', () => {
    const other = irqOnLines.map((l) => (l.startsWith('Bail out!') ? 'Bail out! out of memory' : l));
    const r = judge(iommufdHandover, { resultLines: other, console: irqOnConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.reason).toBe('the agent bailed out of stage 1: out of memory');
    const bail = irqOnLines.findIndex((l) => l.startsWith('Bail out!'));
    const late = [...irqOnLines.slice(0, bail + 1), 'ok 18 smuggled_in', ...irqOnLines.slice(bail + 1)];
    const m = judge(iommufdHandover, { resultLines: late, console: irqOnConsole, exit: exit0 });
    expect(m.status).toBe('error');
    expect(m.reason).toBe('malformed KTAP from the agent in stage 1: "ok 18 smuggled_in"');
  });

  it('calls a test point after a stage\'s trailing plan malformed, not a point the parser may drop', () => {
    const plan2 = luoLines.lastIndexOf('1..16');
    const late = [...luoLines.slice(0, plan2 + 1), 'ok 17 smuggled_in', ...luoLines.slice(plan2 + 1)];
    const r = judge(luoDmaBuffer, { resultLines: late, console: luoConsole, exit: exit0 });
    expect(r.status).toBe('error');
    expect(r.reason).toBe('malformed KTAP from the agent in stage 2: "ok 17 smuggled_in"');
  });

  it('gives the iommufd its own case: vfio-handover declares only what it checks', () => {
    const iommufd = (names: string[]) => names.filter((n) => /_iommufd$/.test(n) && !/bind_iommufd$/.test(n));
    expect(iommufd(allAssertions(vfioHandover))).toEqual([]);
    expect(iommufd(allAssertions(iommufdHandover))).toEqual(['stage1/preserve_iommufd', 'stage2/retrieve_iommufd']);
    expect(iommufdHandover.params.iommufd).toBe(1);
  });

  it('fails a claim SKIP in a later stage when an earlier stage proved the same assertion (a chain hop that regressed)', () => {
    // only-vfio on the reference series, with stage 2 refusing what stage 1 had just done.
    const hop2 = 'vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT';
    const lines = withSkip(onlyHandover, 'bind_iommufd', hop2, { stage: 2 });
    const r = judge(onlyVfio, { resultLines: lines, console: fx('only-vfio-handover', 'only-vfio.console.log'), exit: exit0 });
    expect(r.status).toBe('fail');
    expect(r.assertions.find((a) => a.name === 'stage2/bind_iommufd')).toEqual({
      name: 'stage2/bind_iommufd',
      ok: false,
      diag: { expected: 'vfio-preserve, as in stage 1, where bind_iommufd was ok', seen: `a SKIP in stage 2: ${hop2}`, phase: 'regression' },
      durationMs: 0,
    });
  });

  it('keeps a later stage\'s SKIPs a SKIP when they follow from an earlier stage\'s refusal of the claim', () => {
    const r = judge(onlyVfio, { resultLines: onlyLines, console: '', exit: exit0 });
    expect(r.assertions.find((a) => a.name === 'stage2/ioas_alloc')).toMatchObject({ ok: true, skip: expect.stringMatching(/^vfio-preserve: .* in stage 1$/) });
    expect(r.status).toBe('skip');
  });

  it('calls QEMU killed under a booting stage 2 a MISS naming the signal, not a stage the kernel lost', () => {
    const cut = luoLines.slice(0, luoLines.findIndex((l) => l.startsWith('# vh agent=start stage=2')));
    const r = judge(luoDmaBuffer, { resultLines: cut, console: luoConsole, exit: { code: null, signal: 'SIGKILL', stderr: '' } });
    expect(r.status).toBe('miss');
    expect(r.phase).toBe('kexec');
    expect(r.reason).toBe('QEMU was killed by SIGKILL');
    expect(r.assertions.every((a) => a.name.startsWith('stage1/'))).toBe(true);
  });

  it('keeps the runner\'s own kill at a phase timeout an error naming the phase', () => {
    const cut = luoLines.slice(0, luoLines.findIndex((l) => l.startsWith('# vh agent=start stage=2')));
    const obs = { resultLines: cut, console: luoConsole, exit: { code: null, signal: 'SIGKILL', stderr: '' }, timeout: { phase: 'kexec', seconds: 60 } };
    const r = judge(luoDmaBuffer, obs);
    expect(r.status).toBe('error');
    expect(r.reason).toBe('no progress for 60 s in phase kexec');
  });
});
