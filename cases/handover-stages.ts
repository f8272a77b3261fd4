// Stage assertion lists of the kexec cases, in the order the agent's handover engine
// (guests/agent/case_handover.c) reports them.
import type { Stage } from './case.ts';
import { A, type AssertionName } from './contract.ts';

export const rebind: AssertionName[] = [A.bound_to_vfio_pci, A.noiommu_cdev, A.bind_iommufd, A.ioas_alloc, A.attach_ioas];
export const dmaFirst: AssertionName[] = [A.edu_bar0_responds, A.ioas_map_file, A.vmpin_equals_mapped, A.get_pa_every_page, A.dma_roundtrip_every_page];
export const memfdBack: AssertionName[] = [A.state_crossed_kexec, A.luo_retrieve_memfd, A.memfd_bytes_identical];
export const dmaAgain: AssertionName[] = [A.edu_bar0_responds, A.ioas_map_file, A.vmpin_equals_mapped, A.pa_unchanged_across_kexec, A.dma_resumes];

export interface HandoffOptions {
  memfd: boolean;
  device: boolean;
  iommufd: boolean;
}

/** The steps that end a stage that kexecs. */
export function handoff(o: HandoffOptions): AssertionName[] {
  return [
    A.luo_create_session,
    ...(o.memfd ? [A.luo_preserve_memfd] : []),
    ...(o.device ? [A.preserve_device_fd] : []),
    ...(o.iommufd ? [A.preserve_iommufd] : []),
    A.luo_preserve_state,
    A.kexec_file_load,
    // Last: the sandbox's refusals during preserve and kexec_file_load count too.
    A.sandbox_no_refusals,
  ];
}

/** A later stage taking the preserved device back from LUO, as the agent's retrieve_device() reports it. */
export function deviceBack(o: { dma: boolean; native: boolean; iommufd: boolean; nvme?: boolean; inFlight?: boolean; secondOpener?: boolean; pressure?: boolean }): AssertionName[] {
  return [
    A.state_crossed_kexec,
    A.device_driver_before_userspace,
    ...(o.native ? [A.native_driver_never_probed] : []),
    A.bus_master_before_open,
    ...(o.dma ? memfdBack.slice(1) : []),
    ...(o.inFlight ? [A.dma_targets_preserved, A.dma_in_flight_landed] : []),
    A.bind_before_retrieve_refused,
    A.retrieve_device_fd,
    ...(o.iommufd ? [A.retrieve_iommufd] : []),
    ...(o.secondOpener ? [A.second_opener_refused] : []),
    A.bind_iommufd,
    A.bus_master_kept,
    // Only a device that keeps state a reset destroys (virtio) can witness one; edu cannot be reset.
    ...(o.native || o.nvme ? [A.not_reset] : []),
    A.ioas_alloc,
    A.attach_ioas,
    // Between retrieve and the map nothing but LUO holds the memfd's pages: the control buffer first, then the memfd.
    ...(o.pressure ? [A.pressure_moves_unpinned, A.retrieved_pages_stay_put] : []),
    ...(o.dma ? [A.ioas_map_file, A.vmpin_equals_mapped, A.pa_unchanged_across_kexec, o.nvme ? A.nvme_io_resumes : A.dma_resumes] : []),
  ];
}

/** The steps that end the last stage. */
export const lastStageEnd: AssertionName[] = [A.luo_finish, A.sandbox_no_refusals];

/** nvme with its admin and I/O queues in the preserved memfd (the shape of SPDK and DPDK), handed over running;
 * with inFlight, reads issued before the kexec land during it (dma-across-kexec). */
export function nvmeHandover(o: { inFlight: boolean } = { inFlight: false }): Stage[] {
  const mapped: AssertionName[] = [A.ioas_map_file, A.vmpin_equals_mapped, A.get_pa_every_page];
  const nvme: AssertionName[] = [A.nvme_controller_ready, A.nvme_identify, A.nvme_io_queues, A.nvme_write_read, ...(o.inFlight ? [A.dma_in_flight_issued] : [])];
  return [
    { assertions: [...rebind, ...mapped, ...nvme, ...handoff({ memfd: true, device: true, iommufd: false })] },
    { assertions: [...deviceBack({ dma: true, native: false, iommufd: false, nvme: true, inFlight: o.inFlight }), A.unmap_restores_vmpin, ...lastStageEnd] },
  ];
}

/** A lifecycle case: vfio-handover whose last stage also tries to preserve the retrieved device again before FINISH. */
export function represerveIncoming(): Stage[] {
  const [first, second] = dmaDeviceHandover({ iommufd: false });
  const tail = second!.assertions.slice(-lastStageEnd.length);
  return [first!, { assertions: [...second!.assertions.slice(0, -lastStageEnd.length), A.represerve_incoming_refused, ...tail] }];
}

/** A lifecycle case: vfio-handover where another open of the cdev tries to bind between retrieve and the owner's bind. */
export function secondOpener(): Stage[] {
  const [first] = dmaDeviceHandover({ iommufd: false });
  return [first!, { assertions: [...deviceBack({ dma: true, native: false, iommufd: false, secondOpener: true }), A.unmap_restores_vmpin, ...lastStageEnd] }];
}

/** A lifecycle case: vfio-handover whose last stage pushes the retrieved memfd's pages to another node (compaction,
 * move_pages) before it maps them again, then checks they kept stage 1's physical addresses. */
export function pressureBeforeMap(): Stage[] {
  const [first] = dmaDeviceHandover({ iommufd: false });
  return [first!, { assertions: [...deviceBack({ dma: true, native: false, iommufd: false, pressure: true }), A.unmap_restores_vmpin, ...lastStageEnd] }];
}

/** A lifecycle case: nvme handed over with reads still queued, and a last stage that never retrieves the device:
 * it takes back only the memfd (the probe the reads land in), then FINISHes the session that holds the device. */
export function abandonedDevice(): Stage[] {
  const [first] = nvmeHandover({ inFlight: true });
  const untouched: AssertionName[] = [A.state_crossed_kexec, A.device_driver_before_userspace, A.bus_master_before_open, ...memfdBack.slice(1)];
  return [first!, { assertions: [...untouched, A.abandoned_device_quiesced, A.no_dma_after_finish, ...lastStageEnd] }];
}

/** A lifecycle case: vfio-handover whose last stage FINISHes while a sysfs unbind of the retrieved device, from another
 * thread, waits for the device's file; once the owner closes the device, the unbind completes. */
export function unbindDuringFinish(): Stage[] {
  const [first, second] = dmaDeviceHandover({ iommufd: false });
  const body = second!.assertions.slice(0, -lastStageEnd.length);
  return [first!, { assertions: [...body, A.unbind_in_progress, A.luo_finish, A.unbind_completes, A.sandbox_no_refusals] }];
}

/** A lifecycle case: vfio-handover's first stage starts a thread calling SET_IRQS on the device, and one probing LUO's
 * session lock, just before the reboot; the next stage reads their log from a preserved memfd and checks the freeze. */
export function irqAfterFreeze(): Stage[] {
  const [first] = dmaDeviceHandover({ iommufd: false });
  return [{ assertions: [...first!.assertions, A.irq_race_armed] }, { assertions: [A.state_crossed_kexec, A.set_irqs_refused_after_freeze, A.sandbox_no_refusals] }];
}

/** A lifecycle case: vfio-handover's first stage kexecs into kho=off, a kernel that takes nothing over; its stage checks the
 * device left running is stopped (it cannot retrieve anything, so it reports what was lost instead). A kernel may instead
 * refuse that kexec: then no such kernel runs, and the first stage checks its owner still drives the device. */
export function nextKernelKhoOff(): Stage[] {
  const [first] = dmaDeviceHandover({ iommufd: false });
  const second: AssertionName[] = [A.unclaimed_device_stopped, A.sandbox_no_refusals];
  const refusable = { said: 'the kernel refused the kexec into a kernel booted with kho=off', satisfies: second, then: [A.device_kept_after_refused_kexec] };
  return [first!, { assertions: second, refusable }];
}

/** A lifecycle case in one kernel: the owner drives nvme, leaves reads queued, preserves the memfd and the device fd, and is
 * SIGKILLed before it kexecs; the process that outlives it (holding none of it) checks the device and the session. */
export function ownerCrash(): Stage[] {
  const [first] = nvmeHandover({ inFlight: true });
  const owner = first!.assertions.slice(0, first!.assertions.indexOf(A.luo_preserve_memfd) + 1);
  return [{ assertions: [...owner, A.preserve_device_fd, A.owner_crash_device_stopped, A.owner_crash_session_gone, A.sandbox_no_refusals] }];
}

/** The two stages of a DMA device handed over in VFIO with its memfd (vfio-handover), and its iommufd too (iommufd-handover). */
export function dmaDeviceHandover(o: { iommufd: boolean }): Stage[] {
  return [
    { assertions: [...rebind, ...dmaFirst, ...handoff({ memfd: true, device: true, iommufd: o.iommufd })] },
    { assertions: [...deviceBack({ dma: true, native: false, iommufd: o.iommufd }), A.unmap_restores_vmpin, ...lastStageEnd] },
  ];
}

/** The same stages behind a real IOMMU: the cdev is vfioN, and the device is given IOVAs, so no step asks for physical addresses. */
export function behindIommu(stages: Stage[]): Stage[] {
  const noPa = new Set<string>([A.get_pa_every_page, A.pa_unchanged_across_kexec]);
  return stages.map((s) => ({ assertions: s.assertions.filter((a) => !noPa.has(a)).map((a) => (a === A.noiommu_cdev ? A.iommu_cdev : a)) }));
}
