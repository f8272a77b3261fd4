import { defineCase } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { nvmeHandover } from './handover-stages.ts';

export default defineCase({
  name: CASE['nvme-handover'],
  summary: 'QEMU nvme driven from userspace with its queues in the preserved memfd: handed over enabled, not reset, I/O resumes on the same queues',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['vfio-preserve']],
  devices: [{ role: 'dma', model: 'nvme', props: { serial: 'vh-nvme' }, driveMiB: 1 }],
  // Four queue pages, the Identify page and two data pages (guests/agent/nvme.h).
  params: { pages: 8, stages: 2 },
  stages: nvmeHandover(),
});
