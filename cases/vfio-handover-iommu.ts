import { defineCase } from './case.ts';
import { CASE } from './contract.ts';
import { behindIommu, dmaDeviceHandover } from './handover-stages.ts';
import { eduHandover } from './vfio-handover.ts';

export default defineCase({
  name: CASE['vfio-handover-iommu'],
  summary: "vfio-handover behind QEMU's intel-iommu: the vfio cdev fd of a device in a real IOMMU domain preserved with the memfd, retrieved, bound to a new IOAS, DMA to the same IOVAs",
  ...eduHandover,
  capabilities: [...eduHandover.capabilities, 'iommu'],
  mode: 'iommu',
  params: { pages: 16, stages: 2 },
  stages: behindIommu(dmaDeviceHandover({ iommufd: false })),
});
