import { defineCase, type Stage } from './case.ts';
import { A, CASE } from './contract.ts';
import { dmaAgain, dmaFirst, handoff, lastStageEnd, memfdBack, rebind } from './handover-stages.ts';

/** How many kexecs in a row. */
const kexecs = 3;
const carry = handoff({ memfd: true, device: false, iommufd: false });

const stages: Stage[] = [{ assertions: [...rebind, ...dmaFirst, ...carry] }];
for (let k = 2; k <= kexecs + 1; k++) {
  const last = k === kexecs + 1;
  stages.push({ assertions: [...memfdBack, ...rebind, ...dmaAgain, ...(last ? [A.unmap_restores_vmpin, ...lastStageEnd] : [A.luo_finish, ...carry])] });
}

export default defineCase({
  name: CASE['memfd-chain'],
  summary: `${kexecs} kexecs in a row with only the memfd preserved (userspace rebinds the device); bytes, physical pages and DMA checked at every stage`,
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16, stages: kexecs + 1 },
  stages,
});
