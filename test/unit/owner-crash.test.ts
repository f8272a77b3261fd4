// lifecycle-owner-crash judged from a recorded real run on the reference series (its result lines with arrival times and
// QEMU's trace), and the same run edited as a kernel that let the device run past its owner's death would show it.
import { describe, expect, it } from 'vitest';
import { allAssertions } from '../../cases/case.ts';
import c from '../../cases/lifecycle-owner-crash.ts';
import { judgeControl, kernelControls } from '../../harness/selftest.ts';
import { judge, type CaseResult, type Observation } from '../../harness/verdict.ts';
import { withFailed } from './ktap-edit.ts';
import { recordedObservation } from './fixtures.ts';

const DEATH = 'no_device_write_after_owner_death';
const run = () => recordedObservation('lifecycle-owner-crash-reference', c);
const assertionOf = (r: CaseResult, name: string) => r.assertions.find((a) => a.name === name)!;
/** When the host read the line that opens with `prefix`. */
const lineAt = (o: Observation, prefix: string) => o.resultTimes![o.resultLines.findIndex((l) => l.startsWith(prefix))]!;

describe('lifecycle-owner-crash: the owner SIGKILLed with the device and the memfd preserved and reads queued', () => {
  it('passes the reference series: the device reset as its owner died, every pending read cancelled before the reap', () => {
    const o = run();
    const r = judge(c, o);
    expect(r.status, r.reason).toBe('pass');
    expect(r.assertions.map((a) => a.name)).toEqual(allAssertions(c));
    expect(allAssertions(c).at(-1)).toBe(DEATH);
    expect(r.info.in_flight_pending_at_kill).toBe('9/9');
    expect(r.info.owner_death_writes).toMatch(/^9 reads pending at the kill line, \d+ writes between it and the reaped line, 0 after it; \d+ writes checked$/);
    // The kernel's own account: the session's close unpreserved the device, and vfio-pci's release reset it.
    expect(o.console).toMatch(/vfio-pci 0000:01:00\.0: preserved for live update\r?\nvfio-pci 0000:01:00\.0: no longer preserved for live update/);
  });

  it('passes upstream PCI v7 + VFIO v5 alike (recorded): its release stops the device before the reap', () => {
    const r = judge(c, recordedObservation('lifecycle-owner-crash-upstream', c));
    expect(r.status, r.reason).toBe('pass');
    expect(r.info.owner_death_writes).toMatch(/^9 reads pending at the kill line, \d+ writes between it and the reaped line, 0 after it;/);
  });

  it('fails a device whose queued reads land after the owner was reaped (the trace from the kill on moved a second later)', () => {
    const o = run();
    const killed = lineAt(o, '# vh owner_killed=');
    const late = { ...o, deviceTrace: o.deviceTrace!.map((e) => (e.at > killed ? { ...e, at: e.at + 1000 } : e)) };
    const r = judge(c, late);
    expect(r.status).toBe('fail');
    expect(r.assertions.filter((a) => !a.ok).map((a) => a.name)).toEqual([DEATH]);
    expect(assertionOf(r, DEATH).diag?.seen).toMatch(/^the data of read cid \d+ landed at 0x[0-9a-f]+ \(page 0x[0-9a-f]+, 4096 bytes\) \d+ ms after the owner was reaped; \d+ writes after the reap$/);
  });

  it('catches the unpreserve-keeps-file control (recorded): the device never released masters on, and the nine reads land after the reap', () => {
    const o = recordedObservation('lifecycle-owner-crash-unpreserve-keeps-file', c);
    const r = judge(c, o);
    expect(r.status).toBe('fail');
    expect(r.assertions.filter((a) => !a.ok).map((a) => a.name)).toEqual(['owner_crash_device_stopped', DEATH]);
    for (const k of kernelControls.filter((x) => x.caseName === c.name)) expect(judgeControl(k, r), k.caughtBy).toMatchObject({ caught: true });
    expect(assertionOf(r, 'owner_crash_device_stopped').diag?.seen).toBe('PCI_COMMAND 0x0107');
    expect(r.info.owner_death_writes).toMatch(/^9 reads pending at the kill line, 0 writes between it and the reaped line, \d+ after it;/);
  });

  it('is not ok when the probe is blind: no read pending at the kill (the reads of the trace taken after it)', () => {
    const o = run();
    const killed = lineAt(o, '# vh owner_killed=');
    const blind = { ...o, deviceTrace: o.deviceTrace!.filter((e) => !(e.name === 'pci_nvme_io_cmd' && / opc 0x2 /.test(e.args) && e.at > killed - 5000)) };
    expect(assertionOf(judge(c, blind), DEATH).diag).toMatchObject({ seen: 'no read pending at the kill line: the probe is blind', phase: 'device' });
  });

  it('is not ok without a trace of the device, or without the owner_reaped line', () => {
    const o = run();
    expect(assertionOf(judge(c, { ...o, deviceTrace: undefined }), DEATH).diag).toMatchObject({ seen: 'no QEMU trace of the device', phase: 'blocked' });
    const i = o.resultLines.findIndex((l) => l.startsWith('# vh owner_reaped='));
    const noReap = { ...o, resultLines: o.resultLines.filter((_, k) => k !== i), resultTimes: o.resultTimes!.filter((_, k) => k !== i) };
    expect(assertionOf(judge(c, noReap), DEATH).diag).toMatchObject({ seen: 'the agent reported no owner_reaped line', phase: 'blocked' });
  });

  it('SKIPs on 7.3 with the kernel\'s reason, the judge\'s own assertion too (recorded: PRESERVE_FD of the device fd refused)', () => {
    const r = judge(c, recordedObservation('lifecycle-owner-crash-7.3', c));
    const reason = 'vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT';
    expect(r.status, r.reason).toBe('skip');
    expect(r.reason).toBe(reason);
    expect(assertionOf(r, DEATH)).toMatchObject({ ok: true, skip: reason });
  });

  it('fails the case when the survivor finds the device mastering or the session still there (the recorded-stream control)', () => {
    const o = run();
    for (const name of ['owner_crash_device_stopped', 'owner_crash_session_gone']) {
      const r = judge(c, { ...o, resultLines: withFailed(o.resultLines, name, 1) });
      expect(r.status, name).toBe('fail');
      expect(r.assertions.filter((a) => !a.ok).map((a) => a.name)).toEqual([name]);
    }
  });
});
