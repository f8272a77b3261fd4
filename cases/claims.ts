// Which guarantee each assertion of a case stands for: every assertion in exactly one claim, so a kernel is placed
// claim by claim (the claims matrix, `--require`), not case by case.
import type { Claim } from '../kernels/capabilities.ts';
import { declaredAssertions, modeOf, type Case } from './case.ts';
import { A, HOST, kexecReboot, type AssertionName, type HostAssertionName, type Mode } from './contract.ts';

/** Assertions that mean one guarantee wherever they appear. */
const fixed: Partial<Record<AssertionName | HostAssertionName | typeof kexecReboot, Claim>> = {
  [A.preserve_iommufd]: 'iommufd-preserve',
  [A.retrieve_iommufd]: 'iommufd-preserve',
  [A.device_driver_before_userspace]: 'vfio-reserve',
  [A.native_driver_never_probed]: 'vfio-reserve',
  [A.bind_before_retrieve_refused]: 'vfio-reserve',
  [A.second_opener_refused]: 'vfio-reserve',
  [A.bus_master_before_open]: 'vfio-running',
  [A.bus_master_kept]: 'vfio-running',
  [A.not_reset]: 'vfio-running',
  [A.nvme_io_resumes]: 'vfio-running',
  [A.dma_in_flight_landed]: 'vfio-running',
  [A.dma_targets_preserved]: 'vfio-running',
  [A.preserve_device_fd]: 'vfio-preserve',
  [A.retrieve_device_fd]: 'vfio-preserve',
  [A.luo_create_session]: 'memfd-preserve',
  [A.luo_preserve_memfd]: 'memfd-preserve',
  [A.luo_preserve_state]: 'memfd-preserve',
  [A.kexec_file_load]: 'memfd-preserve',
  [kexecReboot]: 'memfd-preserve',
  [A.state_crossed_kexec]: 'memfd-preserve',
  [A.luo_retrieve_memfd]: 'memfd-preserve',
  [A.memfd_bytes_identical]: 'memfd-preserve',
  [A.pa_unchanged_across_kexec]: 'memfd-preserve',
  [A.iommu_cdev]: 'iommu',
  [A.iommu_hw_info]: 'iommu',
  [A.dma_outside_ioas_blocked]: 'iommu',
  // A device the next kernel was handed and nobody took back: what FINISH does with it is the handover's lifecycle.
  [A.abandoned_device_quiesced]: 'vfio-preserve',
  [A.unbind_in_progress]: 'vfio-preserve',
  [A.unbind_completes]: 'vfio-preserve',
  // A device kept running must stop where nobody drives it: only a kernel that keeps devices running can fail these.
  [A.no_dma_after_finish]: 'vfio-running',
  [A.unclaimed_device_stopped]: 'vfio-running',
  // A refused kexec into such a kernel leaves the device running, with its owner.
  [A.device_kept_after_refused_kexec]: 'vfio-running',
  [A.owner_crash_device_stopped]: 'vfio-running',
  // Pages that migrate before the map are pages the running device no longer DMAs into the memfd.
  [A.retrieved_pages_stay_put]: 'vfio-running',
  [HOST.no_device_write_after_owner_death]: 'vfio-running',
  // The dead owner's preservation torn down with it.
  [A.owner_crash_session_gone]: 'vfio-preserve',
  // A preserved device is frozen for the kexec: nothing may change its interrupts after that.
  [A.irq_race_armed]: 'vfio-preserve',
  [A.set_irqs_refused_after_freeze]: 'vfio-preserve',
};

/** Whether the case hands the vfio device fd over (its later stages then stand for vfio-preserve). */
function preservesDevice(c: Case): boolean {
  return c.stages.some((s) => s.assertions.includes(A.preserve_device_fd));
}

/** The claim an assertion of stage `stage` of `c` stands for; the judge's own (kernel_warnings, plan) go to the case's main claim. */
export function claimOfAssertion(c: Case, stage: number, name: string): Claim {
  // A case that runs a series' own kselftest stands, setup included, for what it runs it to prove.
  if (c.kselftests?.length && c.claims?.[0]) return c.claims[0];
  const own = c.assertionClaims?.[name as AssertionName];
  if (own) return own;
  const f = fixed[name as AssertionName | HostAssertionName];
  if (f) return f;
  const device = preservesDevice(c);
  // DMA into the preserved pages straight after retrieve: only a device kept running (bus master on) does it.
  if (name === A.dma_resumes) return device ? 'vfio-running' : 'memfd-preserve';
  // FINISH of a session that holds a device runs the device's own finish (the lifecycle cases hang or fail there).
  if (name === A.luo_finish) return device ? 'vfio-preserve' : 'memfd-preserve';
  // The first kernel's own DMA: the mode's claim.
  const oneKernel = modeOf(c) === 'iommu' ? 'iommu' : 'noiommu';
  if (!(name in A)) return device ? 'vfio-preserve' : c.stages.length > 1 ? 'memfd-preserve' : oneKernel;
  if (stage === 1) return oneKernel;
  return device ? 'vfio-preserve' : 'memfd-preserve';
}

/** A reported name (`stage2/bus_master_kept`, or unqualified in a one-stage case) as stage and assertion. */
export function splitQualified(name: string): { stage: number; name: string } {
  const m = /^stage(\d+)\/(.*)$/.exec(name);
  return m ? { stage: Number(m[1]), name: m[2]! } : { stage: 1, name };
}

/** README's claims table: each claim, what it guarantees, and the assertions that stand for it anywhere in the suite. */
export function claimsTable(cases: Case[], summaries: Record<Claim, string>): string[] {
  const rows = (Object.keys(summaries) as Claim[]).map((cl) => {
    const names = [...new Set(cases.flatMap((c) => declaredAssertions(c).filter((a) => claimOfAssertion(c, a.stage, a.name) === cl).map((a) => a.name)))];
    return `| \`${cl}\` | ${summaries[cl]} | ${names.map((n) => `\`${n}\``).join(', ')} |`;
  });
  return ['| claim | guarantee | assertions that stand for it |', '| --- | --- | --- |', ...rows];
}

/** A claim `--require` names, in a mode: `vfio-preserve` is no-IOMMU mode's (the seed's base line), `vfio-preserve@iommu`
 * iommu mode's; `iommu` is only ever iommu mode's. */
export type RequiredClaim = Claim | `${Claim}@iommu`;

/** The claims required of the cases of one mode. */
export function requiredIn(required: readonly RequiredClaim[], mode: Mode): Claim[] {
  return required.flatMap((r) => {
    const [claim, at] = r.split('@') as [Claim, string | undefined];
    return (at ?? (claim === 'iommu' ? 'iommu' : 'noiommu')) === mode ? [claim] : [];
  });
}
