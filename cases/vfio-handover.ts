import { defineCase } from './case.ts';
import { deviceBack, dmaFirst, handoff, lastStageEnd, rebind } from './handover-stages.ts';

export default defineCase({
  name: 'vfio-handover',
  summary: 'the vfio cdev fd and the iommufd preserved with the memfd: the device lands back in VFIO, not reset, DMA resumes',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: ['vfio-preserve'],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16, stages: 2 },
  stages: [
    { assertions: [...rebind, ...dmaFirst, ...handoff({ memfd: true, device: true, iommufd: true })] },
    {
      assertions: [
        ...deviceBack({ dma: true, native: false, iommufd: true }),
        'unmap_restores_vmpin',
        ...lastStageEnd,
      ],
    },
  ],
});
