import { defineCase } from './case.ts';
import { A, CASE, CLAIM } from './contract.ts';
import { nvmeWitnessEvents } from '../harness/dma-witness.ts';
import { nvmeHandover } from './handover-stages.ts';

export default defineCase({
  name: CASE['dma-across-kexec'],
  summary: 'nvme reads issued just before the kexec, served by a throttled drive while the kernel is replaced, land whole in the preserved memfd',
  capabilities: ['base', 'noiommu-iommufd', 'liveupdate'],
  claims: [CLAIM['vfio-preserve']],
  // Two requests a second: six reads outlast the kexec and the next kernel's boot to /init.
  devices: [{ role: 'dma', model: 'nvme', props: { serial: 'vh-nvme' }, driveMiB: 1, driveIops: 2 }],
  // The nvme pages (guests/agent/nvme.h), then six in-flight targets.
  params: { pages: 16, stages: 2 },
  // What the device did, timed by QEMU: its I/O completions give the device-side gap across the kexec, and where each
  // read's data and completion landed is checked against the pages stage 1 preserved.
  deviceEvents: { events: nvmeWitnessEvents, only: /^pci_nvme_enqueue_req_completion cid \d+ cqid 1 / },
  dmaWitness: { dropped: A.dma_in_flight_landed },
  stages: nvmeHandover({ inFlight: true }),
});
