import { defineCase } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { dmaDeviceHandover } from './handover-stages.ts';

export default defineCase({
  name: CASE['vfio-handover'],
  summary: 'the vfio cdev fd preserved with the memfd: the device lands back in VFIO, bus master kept, DMA resumes into the same pages',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['vfio-preserve']],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16, stages: 2 },
  stages: dmaDeviceHandover({ iommufd: false }),
});
