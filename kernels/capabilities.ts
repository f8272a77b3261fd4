// Capabilities a case can need, each backed by the config fragment named for it.
import { join } from 'node:path';
import { fragmentsDir } from '../harness/paths.ts';

export const capabilities = {
  base: { fragment: 'base', summary: 'console, initramfs, PCI, ACPI power-off' },
  'noiommu-iommufd': { fragment: 'noiommu-iommufd', summary: 'VFIO cdev in no-IOMMU mode through iommufd (GET_PA)' },
  liveupdate: { fragment: 'liveupdate', summary: 'Live Update Orchestrator over KHO, kexec_file_load' },
  sandbox: { fragment: 'sandbox', summary: 'seccomp filters and Landlock for the userspace driver' },
  'memory-pressure': { fragment: 'memory-pressure', summary: 'compaction and NUMA migration, to push on pinned pages' },
  'native-drivers': { fragment: 'native-drivers', summary: 'virtio-pci and virtio-rng, for devices that have an in-kernel driver' },
  iommu: { fragment: 'iommu', summary: "Intel VT-d, for QEMU's intel-iommu: iommu-mode cases bind /dev/vfio/devices/vfioN to a real IOMMU domain" },
} as const;

export type CapabilityName = keyof typeof capabilities;

export function fragmentPath(cap: CapabilityName): string {
  return join(fragmentsDir, `${capabilities[cap].fragment}.config`);
}

/** The guarantees a kernel gives or not, one per claim, as only a running kernel shows them; every assertion stands
 * for exactly one (cases/claims.ts). `--require` names them; the agent's SKIPs name the claim the kernel refused. */
export const claims = {
  noiommu: 'no-IOMMU DMA through iommufd: GET_PA, pinned by the kernel, no mprotect or /proc tricks (one kernel)',
  iommu: 'DMA through a real IOMMU domain bound with iommufd: IOVAs translated, pinned by the kernel, nothing outside the IOAS reachable (one kernel)',
  'memfd-preserve': 'LUO preserves a memfd across kexec: the same bytes on the same physical pages',
  'vfio-preserve': 'the vfio cdev fd crosses: preserve, retrieve, bind to an iommufd, map the preserved memfd, under the binding protocol the kernel documents',
  'vfio-reserve': "only VFIO's hands: reserved for vfio-pci from enumeration, no other driver ever probes, no open before retrieve",
  'vfio-running': 'kept running: bus master kept, not reset, DMA resumes without reprogramming',
  'iommufd-preserve': 'LUO preserves an iommufd across kexec',
} as const;

export type Claim = keyof typeof claims;
