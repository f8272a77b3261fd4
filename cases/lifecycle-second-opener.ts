import { defineCase } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { secondOpener } from './handover-stages.ts';

export default defineCase({
  name: CASE['lifecycle-second-opener'],
  summary: "lifecycle: between RETRIEVE_FD and the owner's bind, a plain open of the cdev must not bind the device (the no-reset open is the owner's)",
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['vfio-preserve']],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 4, stages: 2 },
  stages: secondOpener(),
});
