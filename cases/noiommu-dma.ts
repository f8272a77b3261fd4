import { defineCase } from './case.ts';

export default defineCase({
  name: 'noiommu-dma',
  summary: 'edu bound to vfio-pci in no-IOMMU mode; memory pinned through an IOAS; GET_PA proved by DMA',
  capabilities: ['base', 'noiommu-iommufd', 'sandbox', 'memory-pressure'],
  // Two NUMA nodes, so the observer can try to migrate the pinned buffer to the other one.
  numaNodes: 2,
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16 },
  stages: [{ assertions: [
    'bound_to_vfio_pci',
    'noiommu_cdev',
    'taint_user_set',
    'bind_iommufd',
    'ioas_alloc',
    'attach_ioas',
    'edu_bar0_responds',
    'ioas_map',
    'vmpin_grows_by_mapped_size',
    'get_pa_every_page',
    'dma_roundtrip_every_page',
    'pressure_moves_unpinned',
    'pa_stable_under_pressure',
    'dma_after_pressure',
    'get_pa_unmapped_enoent',
    'get_pa_zero_length_einval',
    'get_hw_info_refused',
    'unmap_restores_vmpin',
    'sandbox_no_refusals',
  ] }],
});
