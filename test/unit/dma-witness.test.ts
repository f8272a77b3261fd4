// The device's own record across the kexec, judged from recorded real runs of dma-across-kexec (their result lines with
// arrival times and QEMU's trace): every write in a preserved page, and why in-flight reads were dropped.
import { describe, expect, it } from 'vitest';
import { allAssertions } from '../../cases/case.ts';
import dmaAcrossKexec from '../../cases/dma-across-kexec.ts';
import type { TraceEvent } from '../../harness/qemu/trace.ts';
import { judge, type CaseResult, type Observation } from '../../harness/verdict.ts';
import { recordedObservation } from './fixtures.ts';

const c = dmaAcrossKexec;
const run = (dir: string) => recordedObservation(dir, c);
const assertionOf = (r: CaseResult, name: string) => r.assertions.find((a) => a.name === name)!;
const WRITES = 'stage2/device_writes_preserved';
const LANDED = 'stage2/dma_in_flight_landed';

/** The trace with the events `pick` chooses changed by `edit`. */
function editTrace(o: Observation, pick: (e: TraceEvent, i: number, all: TraceEvent[]) => boolean, edit: (e: TraceEvent) => TraceEvent | undefined): Observation {
  const all = o.deviceTrace!;
  const edited = all.flatMap((e, i) => (pick(e, i, all) ? [edit(e)].filter((x): x is TraceEvent => x !== undefined) : [e]));
  // In time order, as QEMU writes its log.
  return { ...o, deviceTrace: edited.sort((a, b) => a.at - b.at) };
}

/** The index of the mapping of the last read stage 1 left in flight (the one before stage 2's own read). */
function lastInFlightMapping(all: TraceEvent[]): number {
  const reads = all.flatMap((e, i) => (e.name === 'pci_nvme_io_cmd' && e.args.includes("'NVME_NVM_CMD_READ'") ? [i] : []));
  return all.findIndex((e, i) => i > reads.at(-2)! && e.name === 'pci_nvme_map_prp');
}

describe('device_writes_preserved: what QEMU saw the device write across the kexec', () => {
  it('passes the reference series, and says how many of the reads in flight landed inside the kexec window', () => {
    const r = judge(c, run('dma-across-kexec-reference'));
    expect(r.status, r.reason).toBe('pass');
    // The judge's own assertion is one of the case's, last, as reports list them.
    expect(r.assertions.map((a) => a.name)).toEqual(allAssertions(c));
    expect(allAssertions(c).at(-1)).toBe(WRITES);
    expect(assertionOf(r, WRITES).ok).toBe(true);
    expect(r.info['stage2/device_writes']).toMatch(/^6 reads in flight at the reboot call, [1-6] landed inside the kexec window, \d after the next \/init; 7 reads and 7 completions checked$/);
  });

  it('fails a read in flight whose data lands outside the preserved pages (the reference trace, its last in-flight PRP edited)', () => {
    const o = run('dma-across-kexec-reference');
    const at = lastInFlightMapping(o.deviceTrace!);
    const r = judge(c, editTrace(o, (_, i) => i === at, (e) => ({ ...e, args: e.args.replace(/prp1 0x[0-9a-f]+/, 'prp1 0x1000000') })));
    expect(r.status).toBe('fail');
    expect(assertionOf(r, WRITES).diag?.seen).toMatch(/^the data of read cid \d+ landed at 0x1000000 \(page 0x1000000, 4096 bytes\) \d+ ms after the reboot call(, before the next \/init)?: no page stage 1 preserved$/);
  });

  it('fails completions written outside the preserved pages (the I/O completion queue moved in the trace)', () => {
    const r = judge(c, editTrace(run('dma-across-kexec-reference'), (e) => e.name === 'pci_nvme_create_cq', (e) => ({ ...e, args: e.args.replace(/addr=0x[0-9a-f]+/, 'addr=0x2000') })));
    expect(assertionOf(r, WRITES).diag?.seen).toMatch(/^the completion of cid \d+ landed at 0x2000 \(page 0x2000, 16 bytes\) /);
  });

  it('does not count a completion QEMU could not write (pci_nvme_err_addr_write)', () => {
    const o = run('dma-across-kexec-reference');
    const cq = o.deviceTrace!.find((e) => e.name === 'pci_nvme_create_cq')!;
    // Every completion after the kexec line refused, and the queue moved: nothing of it reached memory.
    const moved = editTrace(o, (e) => e === cq, (e) => ({ ...e, args: e.args.replace(/addr=0x[0-9a-f]+/, 'addr=0x2000') }));
    const refused = (moved.deviceTrace ?? []).flatMap((e) =>
      e.name === 'pci_nvme_enqueue_req_completion' && e.args.includes(' cqid 1 ') ? [e, { ...e, name: 'pci_nvme_err_addr_write', args: 'addr 0x2000' }] : [e],
    );
    expect(assertionOf(judge(c, { ...moved, deviceTrace: refused }), WRITES).ok).toBe(true);
  });

  it('catches the dma-stray control (recorded): the stray read landed in an unpreserved page the next kernel kept off, and it booted on', () => {
    const o = run('dma-across-kexec-dma-stray');
    const r = judge(c, o);
    expect(r.status, r.reason).toBe('fail');
    const stray = /^the data of read cid \d+ landed at (0x[0-9a-f]+) \(page 0x[0-9a-f]+, 4096 bytes\) \d+ ms after the reboot call(?:, before the next \/init)?: no page stage 1 preserved$/.exec(String(assertionOf(r, WRITES).diag?.seen));
    expect(stray).not.toBeNull();
    expect(o.console).toContain(`memmap=4K$${stray![1]}`);
    expect(r.assertions.filter((a) => !a.ok).map((a) => a.name)).toEqual(['stage2/dma_targets_preserved', LANDED, WRITES]);
  });

  it('is not ok without a trace of the device, or without the pages stage 1 preserved', () => {
    const o = run('dma-across-kexec-reference');
    expect(assertionOf(judge(c, { ...o, deviceTrace: undefined }), WRITES).diag).toMatchObject({ seen: 'no QEMU trace of the device', phase: 'blocked' });
    const noPages = { ...o, resultLines: o.resultLines.map((l) => l.replace(/^(# vh preserved_pages=).*/, '$1')) };
    expect(assertionOf(judge(c, noPages), WRITES).diag).toMatchObject({ seen: 'stage 1 reported no preserved_pages', phase: 'blocked' });
  });
});

describe('dma_in_flight_landed: in-flight reads dropped, and why, from what QEMU saw', () => {
  const atFreeze = /; the in-flight reads were dropped: bus master cleared at freeze \(QEMU: (.*) once the reads were issued, before the next kernel enumerated PCI; completion writes refused: (\d+)\)$/;

  it('bus-master-cleared (recorded): the old kernel cleared PCI_COMMAND during the reboot, and the device could not post one completion', () => {
    const r = judge(c, run('dma-across-kexec-bus-master-cleared'));
    const seen = String(assertionOf(r, LANDED).diag?.seen);
    expect(seen).toMatch(/^6 of 6 landed \(\d by \/init\), 0 torn, 0 completions in the queue, 0 with an error status; bus master cleared across the kexec \(PCI_COMMAND 0x0103\)/);
    expect(atFreeze.exec(seen)?.slice(1)).toEqual(['PCI_COMMAND <- 0x0103', '6']);
    expect(assertionOf(r, WRITES).ok).toBe(true);
  });

  it('upstream VFIO v5 (recorded): bus master cleared and the device reset at freeze', () => {
    const seen = String(assertionOf(judge(c, run('dma-across-kexec-upstream-lu-v5')), LANDED).diag?.seen);
    expect(atFreeze.exec(seen)?.[1]).toBe('PCI_COMMAND <- 0x0400, then a function level reset');
  });

  it('says "at freeze" only on the evidence: not when the trace lacks the clearing write, nor when it came after the next kernel began enumerating PCI', () => {
    const o = run('dma-across-kexec-bus-master-cleared');
    const kexecLine = o.resultTimes![o.resultLines.findIndex((l) => l.startsWith('# vh agent=kexec '))]!;
    const clearing = (e: TraceEvent) => e.name === 'pci_cfg_write' && e.args === 'nvme 01:00.0 @0x4 <- 0x103' && Math.abs(e.at - kexecLine) < 500;
    expect(o.deviceTrace!.filter(clearing)).toHaveLength(1);
    const without = judge(c, editTrace(o, clearing, () => undefined));
    expect(String(assertionOf(without, LANDED).diag?.seen)).not.toMatch(/at freeze/);
    const sizing = o.deviceTrace!.find((e) => e.at > kexecLine && / @0x10 <- 0xffffffff$/.test(e.args))!;
    const late = judge(c, editTrace(o, clearing, (e) => ({ ...e, at: sizing.at + 1 })));
    expect(String(assertionOf(late, LANDED).diag?.seen)).not.toMatch(/at freeze/);
    expect(assertionOf(late, LANDED).ok).toBe(false);
  });
});

describe('a run that broke', () => {
  it('still names a stray write the device made (it may be why the next kernel broke), and nothing the run never reached', () => {
    const o = run('dma-across-kexec-reference');
    const at = lastInFlightMapping(o.deviceTrace!);
    const stray = editTrace(o, (_, i) => i === at, (e) => ({ ...e, args: e.args.replace(/prp1 0x[0-9a-f]+/, 'prp1 0x1000000') }));
    // The next kernel's agent died before reporting its end.
    const broken = { ...stray, resultLines: stray.resultLines.filter((l) => !l.startsWith('# vh agent=done')) };
    const r = judge(c, broken);
    expect(r.status).toBe('error');
    expect(r.assertions.filter((a) => !a.ok).map((a) => a.name)).toEqual([WRITES]);
    expect(judge(c, { ...broken, deviceTrace: undefined }).assertions.map((a) => a.name)).not.toContain(WRITES);
  });
});
