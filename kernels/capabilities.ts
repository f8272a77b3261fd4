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
} as const;

export type CapabilityName = keyof typeof capabilities;

export function fragmentPath(cap: CapabilityName): string {
  return join(fragmentsDir, `${capabilities[cap].fragment}.config`);
}

/** Kernel features only a running kernel can show (an ioctl that accepts or refuses); `--require` names them. */
export const claims = {
  'vfio-preserve': 'LUO preserves a no-IOMMU vfio-pci cdev fd across kexec',
  'iommufd-preserve': 'LUO preserves an iommufd across kexec',
} as const;

export type Claim = keyof typeof claims;
