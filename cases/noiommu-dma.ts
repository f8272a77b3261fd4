import { defineCase } from './case.ts';
import { A, CASE } from './contract.ts';

export default defineCase({
  name: CASE['noiommu-dma'],
  summary: 'edu bound to vfio-pci in no-IOMMU mode; memory pinned through an IOAS; GET_PA proved by DMA',
  capabilities: ['base', 'noiommu-iommufd', 'sandbox', 'memory-pressure'],
  // Two NUMA nodes, so the observer can try to migrate the pinned buffer to the other one.
  numaNodes: 2,
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16 },
  stages: [{ assertions: [
    A.bound_to_vfio_pci,
    A.noiommu_cdev,
    A.taint_user_set,
    A.bind_iommufd,
    A.ioas_alloc,
    A.attach_ioas,
    A.edu_bar0_responds,
    A.ioas_map,
    A.vmpin_grows_by_mapped_size,
    A.get_pa_every_page,
    A.dma_roundtrip_every_page,
    A.pressure_moves_unpinned,
    A.pa_stable_under_pressure,
    A.dma_after_pressure,
    A.get_pa_unmapped_enoent,
    A.get_pa_zero_length_einval,
    A.get_hw_info_refused,
    A.unmap_restores_vmpin,
    A.sandbox_no_refusals,
  ] }],
});
