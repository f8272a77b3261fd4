import { defineCase } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { dmaDeviceHandover } from './handover-stages.ts';

export default defineCase({
  name: CASE['iommufd-handover'],
  summary: 'the iommufd preserved with the vfio cdev fd and the memfd: the next kernel retrieves it, binds the device to it, DMA resumes',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['iommufd-preserve']],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  // vh.iommufd=1: the agent's handover preserves the iommufd too (guests/agent/case_handover.c).
  params: { pages: 16, stages: 2, iommufd: 1 },
  stages: dmaDeviceHandover({ iommufd: true }),
});
