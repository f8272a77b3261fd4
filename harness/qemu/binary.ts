// Which QEMU binary runs the VMs (VFIO_HANDOVER_QEMU, else the arch's from PATH) and its version.
import { UsageError } from '../errors.ts';
import { ensureHostNeeds, onPath, qemuNeeds } from '../host-deps.ts';
import { capture } from '../proc.ts';
import type { Arch } from './arch.ts';

/** The QEMU a run would use, without installing anything: undefined when there is none. */
export function locateQemu(arch: Arch): string | undefined {
  return onPath(process.env.VFIO_HANDOVER_QEMU || arch.qemu);
}

/** The QEMU to run, its Debian package installed first when missing (unless VFIO_HANDOVER_QEMU names one). */
export async function findQemu(arch: Arch): Promise<string> {
  const forced = process.env.VFIO_HANDOVER_QEMU;
  if (!forced) await ensureHostNeeds(qemuNeeds, 'running VMs');
  const found = locateQemu(arch);
  if (found) return found;
  throw new UsageError(forced ? `QEMU not found: ${forced} (VFIO_HANDOVER_QEMU)` : `QEMU not found: ${arch.qemu} (apt-get install ${arch.qemuPackage})`);
}

/** The first line of `qemu --version`, for the reports. */
export async function qemuVersion(qemu: string): Promise<string> {
  return (await capture(qemu, ['--version'])).stdout.split('\n')[0] || 'unknown';
}
