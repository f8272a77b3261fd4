// Stage assertion lists of the kexec cases, in the order the agent's handover engine
// (guests/agent/case_handover.c) reports them.
import type { Stage } from './case.ts';

export const rebind = ['bound_to_vfio_pci', 'noiommu_cdev', 'bind_iommufd', 'ioas_alloc', 'attach_ioas'];
export const dmaFirst = ['edu_bar0_responds', 'ioas_map_file', 'vmpin_equals_mapped', 'get_pa_every_page', 'dma_roundtrip_every_page'];
export const memfdBack = ['state_crossed_kexec', 'luo_retrieve_memfd', 'memfd_bytes_identical'];
export const dmaAgain = ['edu_bar0_responds', 'ioas_map_file', 'vmpin_equals_mapped', 'pa_unchanged_across_kexec', 'dma_resumes'];

export interface HandoffOptions {
  memfd: boolean;
  device: boolean;
  iommufd: boolean;
}

/** The steps that end a stage that kexecs. */
export function handoff(o: HandoffOptions): string[] {
  return [
    'luo_create_session',
    ...(o.memfd ? ['luo_preserve_memfd'] : []),
    ...(o.device ? ['preserve_device_fd'] : []),
    ...(o.iommufd ? ['preserve_iommufd'] : []),
    'luo_preserve_state',
    'kexec_file_load',
    // Last: the sandbox's refusals during preserve and kexec_file_load count too.
    'sandbox_no_refusals',
  ];
}

/** A later stage taking the preserved device back from LUO, as the agent's retrieve_device() reports it. */
export function deviceBack(o: { dma: boolean; native: boolean; iommufd: boolean }): string[] {
  return [
    'state_crossed_kexec',
    'device_driver_before_userspace',
    ...(o.native ? ['native_driver_never_probed'] : []),
    'bus_master_before_open',
    ...(o.dma ? memfdBack.slice(1) : []),
    'bind_before_retrieve_refused',
    'retrieve_device_fd',
    ...(o.iommufd ? ['retrieve_iommufd'] : []),
    'bind_iommufd',
    'bus_master_kept',
    ...(o.dma ? ['not_reset'] : []),
    'ioas_alloc',
    'attach_ioas',
    ...(o.dma ? ['ioas_map_file', 'vmpin_equals_mapped', 'pa_unchanged_across_kexec', 'dma_resumes'] : []),
  ];
}

/** The steps that end the last stage. */
export const lastStageEnd = ['luo_finish', 'sandbox_no_refusals'];

/** The two stages of a DMA device handed over in VFIO with its memfd (vfio-handover), and its iommufd too (iommufd-handover). */
export function dmaDeviceHandover(o: { iommufd: boolean }): Stage[] {
  return [
    { assertions: [...rebind, ...dmaFirst, ...handoff({ memfd: true, device: true, iommufd: o.iommufd })] },
    { assertions: [...deviceBack({ dma: true, native: false, iommufd: o.iommufd }), 'unmap_restores_vmpin', ...lastStageEnd] },
  ];
}
