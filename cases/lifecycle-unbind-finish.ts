import { defineCase } from './case.ts';
import { CASE } from './contract.ts';
import { unbindDuringFinish } from './handover-stages.ts';
import { eduHandover } from './vfio-handover.ts';

export default defineCase({
  name: CASE['lifecycle-unbind-finish'],
  summary: 'lifecycle: FINISH while a sysfs unbind of the retrieved device (another thread) waits for its file completes, and so does the unbind once the owner closes the device (no deadlock between the session and device_lock)',
  ...eduHandover,
  params: { pages: 4, stages: 2 },
  stages: unbindDuringFinish(),
});
