import { defineCase, type Case } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { dmaDeviceHandover } from './handover-stages.ts';

/** What every edu case that hands the device fd over needs and declares; the lifecycle cases vary its stages. */
export const eduHandover = {
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['vfio-preserve']],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
} satisfies Pick<Case, 'capabilities' | 'claims' | 'devices'>;

export default defineCase({
  name: CASE['vfio-handover'],
  summary: 'the vfio cdev fd preserved with the memfd: the device lands back in VFIO, bus master kept, DMA resumes into the same pages',
  ...eduHandover,
  params: { pages: 16, stages: 2 },
  stages: dmaDeviceHandover({ iommufd: false }),
});
