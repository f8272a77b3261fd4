import { defineCase } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { represerveIncoming } from './handover-stages.ts';

export default defineCase({
  name: CASE['lifecycle-represerve'],
  summary: 'lifecycle: a handed-over device preserved again while still INCOMING (retrieved, not yet finished) must be refused with an errno, and no WARN',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['vfio-preserve']],
  devices: [{ role: 'dma', model: 'edu', props: { dma_mask: '0xffffffffffffffff' } }],
  params: { pages: 4, stages: 2 },
  stages: represerveIncoming(),
});
