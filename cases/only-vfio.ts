import { defineCase } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { deviceBack, handoff, lastStageEnd, rebind } from './handover-stages.ts';

export default defineCase({
  name: CASE['only-vfio'],
  summary: 'a device with an in-kernel driver (virtio-rng) handed over in VFIO: no other driver ever probes it after kexec, and it is not reset',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate', 'native-drivers'],
  claims: [CLAIM['vfio-preserve']],
  devices: [{ role: 'native', model: 'virtio-rng-pci' }],
  params: { stages: 2 },
  stages: [
    { assertions: [...rebind, ...handoff({ memfd: false, device: true, iommufd: false })] },
    {
      assertions: [
        ...deviceBack({ dma: false, native: true, iommufd: false }),
        ...lastStageEnd,
      ],
    },
  ],
});
