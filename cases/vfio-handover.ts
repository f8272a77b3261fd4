import { defineCase } from './case.ts';
import { dmaFirst, handoff, lastStageEnd, memfdBack, rebind } from './handover-stages.ts';

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
        'state_crossed_kexec',
        'device_driver_before_userspace',
        'bus_master_before_open',
        ...memfdBack.slice(1),
        'retrieve_device_fd',
        'retrieve_iommufd',
        'bind_iommufd',
        'bus_master_kept',
        'not_reset',
        'ioas_alloc',
        'attach_ioas',
        'ioas_map_file',
        'vmpin_equals_mapped',
        'pa_unchanged_across_kexec',
        'dma_resumes',
        'unmap_restores_vmpin',
        ...lastStageEnd,
      ],
    },
  ],
});
