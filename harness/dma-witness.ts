// What an nvme device wrote into guest memory across a kexec, read from QEMU's own trace: where the data of each
// read and each completion landed, and when, and how the device lost bus mastering. The guest kernel cannot fake it.
import type { TraceEvent } from './qemu/trace.ts';

export const PAGE = 4096;

/** The trace events the witness reads (QEMU 7.2's hw/nvme/trace-events, and every PCI config write). */
export const nvmeWitnessEvents = [
  'pci_nvme_admin_cmd',
  'pci_nvme_io_cmd',
  'pci_nvme_map_prp',
  'pci_nvme_rw_cb',
  'pci_nvme_create_cq',
  'pci_nvme_enqueue_req_completion',
  'pci_nvme_err_addr_write',
  'pci_nvme_pci_reset',
  'pci_cfg_write',
];

/** One write of the device into guest memory: the data of a read as it completed, or a completion entry. */
export interface DeviceWrite {
  at: number;
  /** When the device took the command that wrote it (a read's mapping); a completion: when it was queued. */
  taken: number;
  pa: number;
  len: number;
  what: string;
}

const num = (re: RegExp, s: string): number | undefined => {
  const m = re.exec(s);
  return m ? Number(m[1]) : undefined;
};

/** A read's data pages, as the device mapped them when it took the command (PRP1, and PRP2 when the data crosses a page). */
function readPages(args: string): { pa: number; len: number; pages: number[] } {
  const prp1 = num(/prp1 (0x[0-9a-f]+)/, args) ?? 0;
  const prp2 = num(/prp2 (0x[0-9a-f]+)/, args) ?? 0;
  const len = num(/^trans_len (\d+)/, args) ?? PAGE;
  const first = PAGE - (prp1 % PAGE);
  return { pa: prp1, len, pages: [prp1 - (prp1 % PAGE), ...(len > first ? [prp2 - (prp2 % PAGE)] : [])] };
}

/** Every write the device made, in trace order: the data of each read lands when QEMU's read completes (rw_cb), into the
 * pages it mapped when it took the command; each completion entry goes to its queue's page (create_cq), unless refused. */
export function nvmeWrites(events: TraceEvent[]): (DeviceWrite & { pages: number[] })[] {
  const reads = new Map<number, ReturnType<typeof readPages> & { taken: number }>();
  const cqs = new Map<number, number>();
  const out: (DeviceWrite & { pages: number[] })[] = [];
  let taking: { cid: number; read: boolean } | undefined;
  for (const e of events) {
    if (e.name === 'pci_nvme_admin_cmd') taking = undefined;
    else if (e.name === 'pci_nvme_io_cmd') taking = { cid: num(/^cid (\d+)/, e.args) ?? -1, read: / opc 0x2 /.test(e.args) };
    else if (e.name === 'pci_nvme_map_prp') {
      // Only a read's mapping is a write into guest memory; admin commands (the firmware's too) are not taken here.
      if (taking?.read) reads.set(taking.cid, { ...readPages(e.args), taken: e.at });
      taking = undefined;
    } else if (e.name === 'pci_nvme_rw_cb') {
      const cid = num(/^cid (\d+)/, e.args) ?? -1;
      const r = reads.get(cid);
      reads.delete(cid);
      if (r) out.push({ at: e.at, ...r, what: `the data of read cid ${cid}` });
    } else if (e.name === 'pci_nvme_create_cq') {
      cqs.set(num(/cqid=(\d+)/, e.args) ?? -1, num(/addr=(0x[0-9a-f]+)/, e.args) ?? 0);
    } else if (e.name === 'pci_nvme_enqueue_req_completion') {
      const cq = cqs.get(num(/cqid (\d+)/, e.args) ?? -1);
      if (cq !== undefined) out.push({ at: e.at, taken: e.at, pa: cq, len: 16, pages: [cq - (cq % PAGE)], what: `the completion of cid ${num(/^cid (\d+)/, e.args)}` });
    } else if (e.name === 'pci_nvme_err_addr_write') {
      // QEMU could not write the entry (bus mastering off): that completion never reached memory.
      const last = out.map((w) => w.what.startsWith('the completion')).lastIndexOf(true);
      if (last >= 0) out.splice(last, 1);
    }
  }
  return out;
}

/** The first write that touched a page outside `preserved`, and the page. */
export function strayWrite(writes: (DeviceWrite & { pages: number[] })[], preserved: Set<number>): { w: DeviceWrite; page: number } | undefined {
  for (const w of writes) {
    const page = w.pages.find((p) => !preserved.has(p));
    if (page !== undefined) return { w, page };
  }
  return undefined;
}

/** Reads the device had taken by `at` and not yet completed (QEMU's rw_cb), by command id: what could still land after it. */
export function readsPendingAt(events: TraceEvent[], at: number): number {
  const pending = new Set<number>();
  for (const e of events) {
    if (e.at > at) break;
    const cid = num(/^cid (\d+)/, e.args) ?? -1;
    if (e.name === 'pci_nvme_io_cmd' && / opc 0x2 /.test(e.args)) pending.add(cid);
    else if (e.name === 'pci_nvme_rw_cb') pending.delete(cid);
  }
  return pending.size;
}

/** `# vh preserved_pages=0x1000,0x2000`: the physical pages a stage preserved. */
export function parsePages(value: string | undefined): Set<number> | undefined {
  if (!value) return undefined;
  return new Set(value.split(',').map((p) => Number(p.trim())));
}

/** Completion entries QEMU could not write (pci_nvme_err_addr_write) from `from` to `to`. */
export function refusedCompletions(events: TraceEvent[], from: number, to: number): number {
  return events.filter((e) => e.name === 'pci_nvme_err_addr_write' && e.at >= from && e.at < to).length;
}

/** How the device lost bus mastering in the kexec window (from, to), if the old kernel did it: a PCI_COMMAND write without
 * bus master, or a function level reset, before the next kernel began enumerating PCI (its first BAR sizing write, on any device). */
export function masterClearedAtFreeze(events: TraceEvent[], from: number, to: number): string | undefined {
  const seen: string[] = [];
  for (const e of events) {
    if (e.at < from || e.at >= to) continue;
    const m = e.name === 'pci_cfg_write' ? /^(\S+) \S+ @(0x[0-9a-f]+) <- (0x[0-9a-f]+)/.exec(e.args) : null;
    const [dev, reg, val] = m ? [m[1], Number(m[2]), Number(m[3])] : ['', -1, 0];
    if (reg >= 0x10 && reg <= 0x24 && val === 0xffffffff) break;
    if (e.name === 'pci_nvme_pci_reset' && !seen.includes(FLR)) seen.push(FLR);
    if (dev === 'nvme' && reg === 0x4 && !(val & 0x4) && !seen.length) seen.push(`PCI_COMMAND <- 0x${(val & 0xffff).toString(16).padStart(4, '0')}`);
  }
  return seen.length ? seen.join(', then ') : undefined;
}

const FLR = 'a function level reset';
