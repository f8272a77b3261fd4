import { defineCase } from './case.ts';
import { CASE } from './contract.ts';
import { abandonedDevice } from './handover-stages.ts';
import dmaAcrossKexec from './dma-across-kexec.ts';

export default defineCase({
  name: CASE['lifecycle-abandoned'],
  summary: 'lifecycle: a device handed over running that nobody retrieves, its session FINISHed: the kernel refuses, or stops the device (bus master off) and no read queued before the kexec lands after FINISH',
  // dma-across-kexec's throttled drive: the reads stage 1 leaves queued are still being served when stage 2 finishes.
  capabilities: dmaAcrossKexec.capabilities,
  claims: dmaAcrossKexec.claims,
  devices: dmaAcrossKexec.devices,
  params: { pages: 16, stages: 2 },
  deviceEvents: dmaAcrossKexec.deviceEvents,
  stages: abandonedDevice(),
});
