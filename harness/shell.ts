// vfio-handover shell: the case's VM with its devices bound to vfio-pci and a busybox shell on
// the console, for a person debugging by hand. The terminal is QEMU's; Ctrl-A X quits.
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modeOf, type Case } from '../cases/case.ts';
import type { Kernel } from './kernel/build.ts';
import type { Guest } from './guest/initramfs.ts';
import type { Accel } from './qemu/accel.ts';
import type { Arch } from './qemu/arch.ts';
import { qemuArgv } from './qemu/argv.ts';
import { caseDevices, kernelCmdline } from './run-case.ts';
import { run } from './proc.ts';
import { word } from '../cases/contract.ts';

export async function runShell(c: Case, kernel: Kernel, guest: Guest, accel: Accel, arch: Arch, qemu: string, append = ''): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vh-shell-'));
  const socket = join(dir, 'result.sock');
  // The agent still opens its result channel; nobody reads it here.
  const server = createServer((conn) => conn.resume());
  await new Promise<void>((r) => server.listen(socket, r));
  const devices = caseDevices(c, arch, dir);
  const argv = qemuArgv({
    arch, accel, qemu, kernel: kernel.bzImage, initrd: guest.initramfs,
    cmdline: kernelCmdline(c, devices, arch, `${word('shell', 1)} ${append}`),
    memoryMiB: c.memoryMiB ?? 512, cpus: c.cpus ?? 1, numaNodes: c.numaNodes, devices, iommu: modeOf(c) === 'iommu', resultSocket: socket, interactive: true,
  });
  try {
    await run(qemu, argv, { interactive: true, failure: 'the guest shell failed' });
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
