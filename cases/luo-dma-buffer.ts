import { defineCase } from './case.ts';
import { A, CASE } from './contract.ts';
import { dmaAgain, dmaFirst, handoff, lastStageEnd, memfdBack, rebind } from './handover-stages.ts';

export default defineCase({
  name: CASE['luo-dma-buffer'],
  summary: 'the DMA buffer is a LUO-preserved memfd: same bytes, same physical pages, DMA resumes after kexec',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16, stages: 2 },
  stages: [
    { assertions: [...rebind, ...dmaFirst, ...handoff({ memfd: true, device: false, iommufd: false })] },
    { assertions: [...memfdBack, ...rebind, ...dmaAgain, A.unmap_restores_vmpin, ...lastStageEnd] },
  ],
});
