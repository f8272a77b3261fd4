import { defineCase, type Stage } from './case.ts';
import { A, CASE, CLAIM } from './contract.ts';
import { deviceBack, dmaFirst, handoff, lastStageEnd, rebind } from './handover-stages.ts';

/** How many kexecs in a row. */
const kexecs = 3;
const carry = handoff({ memfd: true, device: true, iommufd: false });
/** Every later stage takes the device back from LUO, FINISHes, then preserves it again for the next hop. */
const back = deviceBack({ dma: true, native: false, iommufd: false });

const stages: Stage[] = [{ assertions: [...rebind, ...dmaFirst, ...carry] }];
for (let k = 2; k <= kexecs + 1; k++) {
  const last = k === kexecs + 1;
  stages.push({ assertions: [...back, ...(last ? [A.unmap_restores_vmpin, ...lastStageEnd] : [A.luo_finish, ...carry])] });
}

export default defineCase({
  name: CASE['kexec-chain'],
  summary: `${kexecs} kexecs in a row with the vfio device preserved at every hop: back in VFIO, bus master kept, DMA into the same pages each time`,
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['vfio-preserve']],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 16, stages: kexecs + 1 },
  stages,
});
