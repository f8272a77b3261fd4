// What a case is: devices, the capabilities it needs, its stages and the assertions each reports.
import type { CapabilityName, Claim } from '../kernels/capabilities.ts';
import { HOST, KSELFTEST, type AssertionName, type Key, type Mode } from './contract.ts';

export interface CaseDevice {
  /** How the agent is told where this device is: vh.<role>=<bdf>. */
  role: Extract<Key, 'dma' | 'native'>;
  model: string;
  props?: Record<string, string>;
  /** On the root bus (an integrated endpoint) instead of behind its own pcie-root-port, where that is the point. */
  rootBus?: boolean;
  /** A blank raw disk of this many MiB as the device's drive (nvme): made for the run, removed after it. */
  driveMiB?: number;
  /** The drive serves at most this many requests a second (QEMU's throttling.iops-total): I/O that outlasts a kexec. */
  driveIops?: number;
}

/** A kselftest of the kernel tree under test: built from tools/testing/selftests/<dir>, run in the VM on the case's device. */
export interface Kselftest {
  /** Under tools/testing/selftests/, e.g. vfio. */
  dir: string;
  /** The program its Makefile builds, e.g. vfio_pci_liveupdate_uapi_test. */
  program: string;
  /** Before the device's BDF, which the agent appends (the vfio selftests' lib takes it as the last argument). */
  args?: string[];
}

/** The agent's test point for a kselftest: its KTAP nests under it, judged point by point. */
export type KselftestPoint = `${typeof KSELFTEST.point}${string}`;

export function kselftestPoint(k: Kselftest): KselftestPoint {
  return `${KSELFTEST.point}${k.program}`;
}

/** A kexec into a stage that the kernel may refuse as a correct outcome (lifecycle-kho-off); anywhere else a refused kexec is not ok. */
export interface RefusedKexec {
  /** What the refusal means, for the previous stage's kexec_reboot: "<said>: <errname>". */
  said: string;
  /** This stage's assertions the refusal satisfies: they read ok, saying no such kernel ran; any other stays not ok. */
  satisfies: AssertionName[];
  /** What the previous stage then reports after the refusal, before its Bail out!: that it still holds what it had. */
  then: AssertionName[];
}

/** One boot of the case: stage 1 is the first kernel, stage N+1 the kernel after the Nth kexec. */
export interface Stage {
  /** Every assertion the agent must report in this stage, in order; one missing is a failure, one SKIP makes the case SKIP. */
  assertions: (AssertionName | KselftestPoint)[];
  /** The kexec into this stage may be refused, and that is a correct outcome. */
  refusable?: RefusedKexec;
}

export interface Case {
  /** As the agent knows it: one of cases/contract.ts CASE. */
  name: string;
  summary: string;
  /** Config capabilities: a kernel whose config lacks one makes the case SKIP before booting. */
  capabilities: CapabilityName[];
  /** The kernel claims the case exists to prove; the agent's SKIPs for them name them (`--require` makes those failures). */
  claims?: Claim[];
  /** Where this case makes an assertion stand for another claim than it does elsewhere (cases/claims.ts). */
  assertionClaims?: Partial<Record<AssertionName, Claim>>;
  devices: CaseDevice[];
  /** Extra vh.<key>=<value> words for the agent. */
  params: Partial<Record<Key, string | number>>;
  stages: Stage[];
  memoryMiB?: number;
  /** Split guest memory over this many NUMA nodes (default 1); nodes past the vCPUs have memory only. */
  numaNodes?: number;
  /** QEMU trace events the judge reads: `only` picks the completions whose host-side times give the device gap across a kexec. */
  deviceEvents?: { events: string[]; only?: RegExp };
  /** The trace is of an nvme device's writes (harness/dma-witness.ts): after each kexec the judge requires every one in a page
   * the previous stage preserved (device_writes_preserved), and says why `dropped` failed when bus mastering went off at freeze. */
  dmaWitness?: { dropped: AssertionName };
  /** The trace is of an nvme device whose owner is SIGKILLed (lifecycle-owner-crash): the judge requires reads still pending at
   * the kill, and no write of the device after the agent's owner_reaped line (no_device_write_after_owner_death). */
  ownerDeathWitness?: boolean;
  /** How the device reaches memory (default noiommu); iommu puts QEMU's intel-iommu in the VM and tells the agent (vh.mode=iommu). */
  mode?: Mode;
  /** vCPUs (default 1): a second one buys nothing but cross-vCPU rendezvous under TCG (issue 11's boot hang). */
  cpus?: number;
  /** Kselftests the agent runs on the `dma` device, bound to vfio-pci, in this order (one test point each). */
  kselftests?: Kselftest[];
}

export function defineCase(c: Case): Case {
  return c;
}

/** Assertion names as reports show them: stage-qualified when the case has several stages. */
export function qualified(c: Case, stage: number, name: string): string {
  return c.stages.length > 1 ? `stage${stage}/${name}` : name;
}

/** Every assertion a verdict of the case holds, qualified: what each stage declares, then the judge's own. */
export function allAssertions(c: Case): string[] {
  return [...c.stages.flatMap((s, i) => s.assertions.map((a) => qualified(c, i + 1, a))), ...hostAssertions(c)];
}

/** Each assertion a case may report, with its stage: each stage's own, and the ones a stage reports after the kernel refused a
 * kexec into a stage that allows it (allAssertions lists the run where every kexec happens). */
export function declaredAssertions(c: Case): { stage: number; name: AssertionName | KselftestPoint }[] {
  return c.stages.flatMap((s, i) => [
    ...s.assertions.map((name) => ({ stage: i + 1, name })),
    ...(c.stages[i + 1]?.refusable?.then ?? []).map((name) => ({ stage: i + 1, name })),
  ]);
}

/** The judge's own assertions from QEMU's trace of the device: one for each stage a kexec led to. */
export function hostAssertions(c: Case): string[] {
  const across = c.dmaWitness ? c.stages.slice(1).map((_, i) => qualified(c, i + 2, HOST.device_writes_preserved)) : [];
  return [...across, ...(c.ownerDeathWitness ? [qualified(c, 1, HOST.no_device_write_after_owner_death)] : [])];
}

export function modeOf(c: Case): Mode {
  return c.mode ?? 'noiommu';
}
