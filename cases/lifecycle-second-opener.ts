import { defineCase } from './case.ts';
import { CASE } from './contract.ts';
import { secondOpener } from './handover-stages.ts';
import { eduHandover } from './vfio-handover.ts';

export default defineCase({
  name: CASE['lifecycle-second-opener'],
  summary: "lifecycle: between RETRIEVE_FD and the owner's bind, a plain open of the cdev must not bind the device (the no-reset open is the owner's)",
  ...eduHandover,
  params: { pages: 4, stages: 2 },
  stages: secondOpener(),
});
