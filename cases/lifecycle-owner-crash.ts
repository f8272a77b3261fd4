import { defineCase } from './case.ts';
import { CASE, CLAIM } from './contract.ts';
import { ownerCrash } from './handover-stages.ts';
import dmaAcrossKexec from './dma-across-kexec.ts';

export default defineCase({
  name: CASE['lifecycle-owner-crash'],
  summary:
    'lifecycle: the owner preserved the device and the memfd with nvme reads queued, and is SIGKILLed before it kexecs: its session is torn down, the device stops (bus master off) and, by QEMU\'s trace, writes nothing after the owner is reaped',
  // dma-across-kexec's throttled drive: the reads the owner leaves queued are still being served when it dies.
  capabilities: dmaAcrossKexec.capabilities,
  claims: [CLAIM['vfio-running']],
  devices: dmaAcrossKexec.devices,
  params: { pages: 16 },
  deviceEvents: dmaAcrossKexec.deviceEvents,
  ownerDeathWitness: true,
  stages: ownerCrash(),
});
