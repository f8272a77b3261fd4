import { defineCase } from './case.ts';
import { CASE } from './contract.ts';
import { represerveIncoming } from './handover-stages.ts';
import { eduHandover } from './vfio-handover.ts';

export default defineCase({
  name: CASE['lifecycle-represerve'],
  summary: 'lifecycle: a handed-over device preserved again while still INCOMING (retrieved, not yet finished) must be refused with an errno, and no WARN',
  ...eduHandover,
  params: { pages: 4, stages: 2 },
  stages: represerveIncoming(),
});
