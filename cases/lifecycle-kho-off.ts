import { defineCase } from './case.ts';
import { CASE } from './contract.ts';
import { nextKernelKhoOff } from './handover-stages.ts';
import { eduHandover } from './vfio-handover.ts';

export default defineCase({
  name: CASE['lifecycle-kho-off'],
  summary: 'lifecycle: the next kernel boots with kho=off, so it takes nothing over (it says what was lost); a device handed over running must not be left bus mastering in it',
  ...eduHandover,
  params: { pages: 4, stages: 2 },
  stages: nextKernelKhoOff(),
});
