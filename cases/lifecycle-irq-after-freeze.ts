import { defineCase } from './case.ts';
import { CASE } from './contract.ts';
import { irqAfterFreeze } from './handover-stages.ts';
import { eduHandover } from './vfio-handover.ts';

export default defineCase({
  name: CASE['lifecycle-irq-after-freeze'],
  summary: 'lifecycle: while the kernel freezes the preserved device for the kexec, another thread keeps calling VFIO_DEVICE_SET_IRQS; once frozen, every call must be refused',
  ...eduHandover,
  // The racing threads run beside the rebooting one, as another CPU's would.
  cpus: 2,
  params: { pages: 4, stages: 2 },
  stages: irqAfterFreeze(),
});
