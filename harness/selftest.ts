// Negative controls: drivers that cheat on purpose. Each guard must catch its cheat, and say so,
// or the harness cannot be trusted on this kernel.
import type { Case } from '../cases/case.ts';
import { allCases } from '../cases/index.ts';
import type { CaseResult } from './verdict.ts';
import type { Claim } from '../kernels/capabilities.ts';
import { requiredIn, type RequiredClaim } from '../cases/claims.ts';
import { A, CASE, CHEAT, CLAIM, HOST, REFUSED, SECCOMP, WATCH, kexecReboot, type Cheat } from '../cases/contract.ts';

/** A contract spelling inside a RegExp, matched literally. */
const lit = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** sandbox_no_refusals' `seen`, as the agent writes it: each guard's count, `; `-separated. */
const refused = (...counts: string[]): RegExp => new RegExp(counts.join('; '));
const bySeccomp = (rule: string, n = 1): string => `${lit(REFUSED.seccomp)} ${lit(rule)} x${n}`;
const byWatch = (label: string, n: number, first: string): string => `${lit(REFUSED.watch)} ${lit(label)} x${n} \\(first ${first}\\)`;

export interface Control {
  /** The cheat, as the agent's vh.cheat= knows it. */
  cheat: Cheat;
  does: string;
  guard: string;
  caseName: string;
  /** The assertion that must go not ok, and what its diagnostic must name. */
  caughtBy: string;
  seen: RegExp;
  /** A guarantee only a kernel that claims this makes: elsewhere the control cannot run and SKIPs. */
  needs?: Claim;
  /** A kernel that stops the cheat itself, before caughtBy can see it (and what it must say), also catches it. */
  orCaughtBy?: { caughtBy: string; seen: RegExp; guard: string };
}

export const controls: Control[] = [
  {
    cheat: CHEAT.pagemap,
    does: 'reads physical addresses from /proc/self/pagemap',
    guard: 'the /proc guard (Landlock, with the observer watching every open)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(byWatch(WATCH.proc, 1, lit('/proc/self/pagemap'))),
  },
  {
    cheat: CHEAT.mlock,
    does: 'mlocks the DMA buffer',
    guard: 'seccomp',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.mlock)),
  },
  {
    cheat: CHEAT.mprotect,
    does: 'mprotects the DMA buffer',
    guard: 'seccomp',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.mprotect)),
  },
  {
    cheat: CHEAT['map-locked'],
    does: 'maps the DMA buffer\'s memfd again with MAP_LOCKED (an mlock by another name)',
    guard: 'seccomp (mmap with MAP_LOCKED)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.mmap_locked)),
  },
  {
    cheat: CHEAT.remap,
    does: 'maps other memory over the DMA buffer (mmap MAP_FIXED, mremap MREMAP_FIXED)',
    guard: 'seccomp (mmap with MAP_FIXED, mremap)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.mmap_fixed), bySeccomp(SECCOMP.mremap)),
  },
  {
    cheat: CHEAT['io-uring'],
    does: 'sets up io_uring (its opens bypass the open watch, REGISTER_BUFFERS pins)',
    guard: 'seccomp (io_uring)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.io_uring_setup)),
  },
  {
    cheat: CHEAT.mempolicy,
    does: 'moves the buffer with mbind(MPOL_MF_MOVE), binds its policy, asks get_mempolicy(MPOL_F_ADDR) where a page is',
    guard: 'seccomp (NUMA policy)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.mbind_move), bySeccomp(SECCOMP.set_mempolicy), bySeccomp(SECCOMP.get_mempolicy_addr)),
  },
  {
    cheat: CHEAT.ioport,
    does: 'asks for I/O port access (iopl, ioperm)',
    guard: 'seccomp (I/O ports)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.iopl), bySeccomp(SECCOMP.ioperm)),
  },
  {
    cheat: CHEAT['perf-event'],
    does: 'opens a perf event that samples physical addresses',
    guard: 'seccomp (perf_event_open)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.perf_event_open)),
  },
  {
    cheat: CHEAT['process-madvise'],
    does: 'pages its own DMA buffer out with process_madvise',
    guard: 'seccomp (process_madvise)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.process_madvise)),
  },
  {
    cheat: CHEAT.x32,
    does: 'mlocks the buffer through the x32 syscall number',
    guard: 'seccomp (x32 syscall numbers)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(bySeccomp(SECCOMP.x32)),
  },
  {
    cheat: CHEAT['dev-mem'],
    does: 'opens /dev/mem',
    guard: 'the open watch (/dev/mem)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(byWatch(WATCH.dev_mem, 1, lit('/dev/mem'))),
  },
  {
    cheat: CHEAT['pci-sysfs'],
    does: 'writes the device\'s config space and opens its BAR through PCI sysfs, past VFIO',
    guard: 'the open watch (PCI sysfs)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(byWatch(WATCH.pci_config, 1, `${lit('/sys/bus/pci/devices/')}[^)]*${lit('/config')}`), byWatch(WATCH.pci_resource, 1, `[^)]*${lit('/resource0')}`)),
  },
  {
    cheat: CHEAT['proc-alias'],
    does: 'reads /proc/self/pagemap by other names (relative, //proc, /./proc, /dev/fd)',
    guard: 'the /proc guard (the open watch resolves the path as the kernel does)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(byWatch(WATCH.proc, 4, lit('proc/self/pagemap'))),
  },
  {
    cheat: CHEAT.landlock,
    does: 'opens a file outside the sandbox\'s paths (/init), which Landlock refuses',
    guard: 'the open watch (what Landlock denies, counted)',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.sandbox_no_refusals,
    seen: refused(byWatch(WATCH.landlock, 1, lit('/init'))),
  },
  {
    cheat: CHEAT['wrong-dma'],
    does: 'DMAs the data back into the wrong page',
    guard: 'the byte-for-byte DMA check',
    caseName: CASE['noiommu-dma'],
    caughtBy: A.dma_roundtrip_every_page,
    seen: /page 0 \(pa 0x[0-9a-f]+\) byte \d+/,
  },
  {
    cheat: CHEAT['check-driver'],
    does: 'checks the driver binding after kexec although the device was not preserved',
    guard: 'the only-VFIO driver check',
    caseName: CASE['only-vfio'],
    caughtBy: `stage2/${A.device_driver_before_userspace}`,
    seen: /bound to virtio-pci/,
  },
  {
    cheat: CHEAT['irq-on'],
    does: 'leaves the device\'s interrupts enabled when it kexecs',
    guard: 'the kernel\'s freeze check (LUO refuses the reboot)',
    caseName: CASE['vfio-handover'],
    caughtBy: `stage1/${kexecReboot}`,
    // EBUSY on the reference series, EINVAL from upstream VFIO v5's freeze.
    seen: /the kernel refused the kexec: (EBUSY|EINVAL)$/,
    needs: CLAIM['vfio-preserve'],
  },
  {
    cheat: CHEAT['dma-unpreserved'],
    does: 'leaves a read in flight across the kexec into a page nobody preserved (the next kernel owns it)',
    guard: "the check of the device's submission queue against the preserved pages",
    caseName: CASE['dma-across-kexec'],
    caughtBy: `stage2/${A.dma_targets_preserved}`,
    seen: /^read 6 of 6 \(queue slot \d+\) targets 0x[0-9a-f]+, which no preserved page holds$/,
    needs: CLAIM['vfio-preserve'],
    // noiommu-continuous-dma checks at freeze that the device's IOAS maps only preserved files.
    orCaughtBy: { caughtBy: `stage1/${kexecReboot}`, seen: /the kernel refused the kexec: EBUSY$/, guard: "the kernel's freeze check of the device's DMA mappings" },
  },
  {
    cheat: CHEAT['dma-stray'],
    does: 'leaves a read in flight across the kexec that really lands in a page nobody preserved (the next kernel keeps off it: memmap=)',
    guard: "QEMU's trace of every page the device wrote after the reboot call",
    caseName: CASE['dma-across-kexec'],
    caughtBy: `stage2/${HOST.device_writes_preserved}`,
    seen: /^the data of read cid \d+ landed at 0x[0-9a-f]+ \(page 0x[0-9a-f]+, 4096 bytes\) \d+ ms after the reboot call(?:, before the next \/init)?: no page stage 1 preserved$/,
    needs: CLAIM['vfio-preserve'],
  },
  {
    cheat: CHEAT['map-pa'],
    does: 'maps page 0 at the IOVA the check writes to, as if the IOAS reached past the buffer',
    guard: "the byte check of a transfer to an IOVA the IOAS does not map (and the IOMMU's fault record)",
    caseName: CASE['iommu-dma'],
    caughtBy: A.dma_outside_ioas_blocked,
    seen: /^4095 bytes of page 0 changed by a transfer to IOVA 0x[0-9a-f]+$/,
  },
];

/** What judgeControl needs of a control of either kind. */
export type Judged = Pick<Control, 'guard' | 'caughtBy' | 'seen' | 'needs' | 'orCaughtBy'>;

/** A kernel that breaks one guarantee the way a real bug would: the reference series plus one control patch. */
export interface KernelControl extends Judged {
  /** kernels/patches/controls/<name>: the series it breaks (symlinked) and its one patch on top. */
  patches: string;
  does: string;
  caseName: string;
}

/** The series kernel controls sit on: selftest runs them when it is the kernel under test. */
export const kernelControlBase = 'noiommu-handover';

export const kernelControls: KernelControl[] = [
  {
    patches: 'kernels/patches/controls/late-reservation',
    does: 'reserves a handed-over device only at late_initcall, after its native driver probed it, then gives it back to vfio-pci with bus master on',
    guard: 'the driver core\'s probe record (initcall_debug)',
    caseName: CASE['only-vfio'],
    caughtBy: `stage2/${A.native_driver_never_probed}`,
    seen: /probe of \S+ with driver virtio-pci returned/,
    needs: CLAIM['vfio-preserve'],
  },
  {
    patches: 'kernels/patches/controls/reset-on-open',
    does: 'resets a handed-over device on its first open (config space and bus master restored)',
    guard: 'the reset witness in the device (virtio status and queue registers)',
    caseName: CASE['only-vfio'],
    caughtBy: `stage2/${A.not_reset}`,
    seen: /status 0x00, queue 0 size 8 desc 0x0/,
    needs: CLAIM['vfio-preserve'],
  },
  {
    patches: 'kernels/patches/controls/bus-master-cleared',
    does: 'clears bus mastering of preserved devices at the kexec',
    guard: 'PCI_COMMAND read through sysfs before anything opens the device',
    caseName: CASE['vfio-handover'],
    caughtBy: `stage2/${A.bus_master_before_open}`,
    seen: /^PCI_COMMAND 0x[0-9a-f]{3}[0-38-9ab]$/,
    needs: CLAIM['vfio-preserve'],
  },
  {
    patches: 'kernels/patches/controls/bus-master-cleared',
    does: 'clears bus mastering of preserved devices at the kexec, with nvme reads in flight',
    guard: "the completions in the preserved queue, and QEMU's trace of the device's PCI_COMMAND",
    caseName: CASE['dma-across-kexec'],
    caughtBy: `stage2/${A.dma_in_flight_landed}`,
    seen: /0 completions in the queue.*; the in-flight reads were dropped: bus master cleared at freeze \(QEMU: PCI_COMMAND <- 0x[0-9a-f]{3}[0-38-9ab] once the reads were issued, before the next kernel enumerated PCI; completion writes refused: 6\)$/,
    needs: CLAIM['vfio-preserve'],
  },
  {
    patches: 'kernels/patches/controls/unpreserve-keeps-file',
    does: 'keeps a reference to every device file it unpreserves: the device of an owner that died before the kexec is never released',
    guard: 'PCI_COMMAND read through sysfs once the owner is reaped',
    caseName: CASE['lifecycle-owner-crash'],
    caughtBy: A.owner_crash_device_stopped,
    seen: /^PCI_COMMAND 0x[0-9a-f]{3}[4-7c-f]$/,
    needs: CLAIM['vfio-preserve'],
  },
  {
    patches: 'kernels/patches/controls/unpreserve-keeps-file',
    does: 'keeps a reference to every device file it unpreserves, with nvme reads queued when the owner dies',
    guard: "QEMU's trace of the device's writes after the owner_reaped line",
    caseName: CASE['lifecycle-owner-crash'],
    caughtBy: HOST.no_device_write_after_owner_death,
    seen: /^the data of read cid \d+ landed at 0x[0-9a-f]+ \(page 0x[0-9a-f]+, 4096 bytes\) \d+ ms after the owner was reaped; \d+ writes after the reap$/,
    needs: CLAIM['vfio-preserve'],
  },
];

export function controlCase(c: { caseName: string }): Case {
  const found = allCases.find((k) => k.name === c.caseName);
  if (!found) throw new Error(`a control names unknown case ${c.caseName}`);
  return found;
}

export interface ControlVerdict {
  caught: boolean;
  /** The kernel lacks what the control needs: the kernel's reason. */
  skip?: string;
  /** One line: which guard caught it and what it said, or why it was not caught. */
  detail: string;
}

/** `require`: claims the kernel must make (`--require`); a control that needs one and cannot run is not ok. */
export function judgeControl(c: Judged, r: CaseResult, required: RequiredClaim[] = []): ControlVerdict {
  // Every control that needs a claim runs a no-IOMMU case.
  const require = requiredIn(required, 'noiommu');
  const v = judgeOne(c, r, require);
  if (v.caught || v.skip || !c.orCaughtBy) return v;
  const earlier = judgeOne({ ...c, ...c.orCaughtBy }, r, require);
  return earlier.caught ? earlier : v;
}

/** One assertion's verdict on a control: failed, and for this cheat. */
function judgeOne(c: Judged, r: CaseResult, require: Claim[]): ControlVerdict {
  if (r.status === 'error') return { caught: false, detail: `the run itself failed: ${r.reason}` };
  const needs = c.needs;
  // A SKIP for the claim, or one the verdict already turned into a --require failure.
  const lacking = needs && r.assertions.map((a) => a.skip ?? (a.diag?.phase === 'require' ? String(a.diag.seen) : '')).find((s) => s.startsWith(`${needs}:`));
  if (needs && lacking && require.includes(needs)) return { caught: false, detail: `cannot run here, and --require ${needs}: ${lacking}` };
  if (lacking) return { caught: false, skip: lacking, detail: `cannot run here: ${lacking}` };
  // The case never booted: this kernel's config lacks what it needs (an image without the iommu fragment).
  if (r.status === 'skip' && r.assertions.every((x) => x.skip === r.reason)) return { caught: false, skip: r.reason, detail: `cannot run here: ${r.reason}` };
  const a = r.assertions.find((x) => x.name === c.caughtBy);
  if (!a) return { caught: false, detail: `${c.caughtBy} was not reported` };
  if (a.ok) return { caught: false, detail: `${c.caughtBy} stayed ok${a.skip ? ` (SKIP ${a.skip})` : ''}: ${c.guard} let it through` };
  const seen = String(a.diag?.seen ?? '');
  if (!c.seen.test(seen)) return { caught: false, detail: `${c.caughtBy} failed, but not for this cheat: ${seen}` };
  return { caught: true, detail: `caught by ${c.guard}: ${seen}` };
}
