import { defineCase } from './case.ts';
import { A, CASE } from './contract.ts';

export default defineCase({
  name: CASE['iommu-dma'],
  summary: "edu behind QEMU's intel-iommu, bound to vfio-pci with a real IOMMU domain through iommufd: DMA to IOVAs lands in the mapped pages, and a transfer to an address the IOAS does not map is blocked",
  capabilities: ['base', 'noiommu-iommufd', 'sandbox', 'iommu'],
  mode: 'iommu',
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16 },
  stages: [{ assertions: [
    A.bound_to_vfio_pci,
    A.iommu_cdev,
    A.bind_iommufd,
    A.ioas_alloc,
    A.attach_ioas,
    A.iommu_hw_info,
    A.edu_bar0_responds,
    A.ioas_map,
    A.vmpin_grows_by_mapped_size,
    A.dma_roundtrip_every_page,
    A.dma_outside_ioas_blocked,
    A.unmap_restores_vmpin,
    A.sandbox_no_refusals,
  ] }],
});
