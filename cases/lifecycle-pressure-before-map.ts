import { defineCase } from './case.ts';
import { A, CASE } from './contract.ts';
import { pressureBeforeMap } from './handover-stages.ts';
import { eduHandover } from './vfio-handover.ts';

export default defineCase({
  name: CASE['lifecycle-pressure-before-map'],
  summary: "lifecycle: between retrieve and IOMMU_IOAS_MAP_FILE, compaction and move_pages to the other node must move none of the retrieved memfd's pages; after the map GET_PA gives stage 1's addresses and DMA lands in them",
  ...eduHandover,
  capabilities: [...eduHandover.capabilities, 'memory-pressure'],
  // Two NUMA nodes, so the observer can push the retrieved pages to the other one.
  numaNodes: 2,
  // The memfd crossed on its pages; here they move only under the pressure put on them after retrieve, which matters
  // only to a device still writing those addresses.
  assertionClaims: { [A.pa_unchanged_across_kexec]: 'vfio-running' },
  params: { pages: 4, stages: 2 },
  stages: pressureBeforeMap(),
});
