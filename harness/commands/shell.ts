// vfio-handover shell: the case's VM, devices bound to vfio-pci, a busybox shell on the console.
import { pickCases } from '../../cases/index.ts';
import { ExitCode } from '../errors.ts';
import { ensureHostNeeds, shellNeeds } from '../host-deps.ts';
import { resolveKernel } from '../kernel/spec.ts';
import { buildGuest } from '../guest/initramfs.ts';
import { chooseAccel } from '../qemu/accel.ts';
import { hostArch } from '../qemu/arch.ts';
import { findQemu } from '../qemu/binary.ts';
import { note } from '../progress.ts';
import { runShell } from '../shell.ts';
import { defineCommand, kernelOptions, kernelSpecOf, vmOptions } from './options.ts';

export const shellCommand = defineCommand({
  name: 'shell',
  args: '[CASE]',
  maxArgs: 1,
  summary: "the case's VM (default noiommu-dma), devices bound to vfio-pci, a busybox shell on the console",
  options: { ...kernelOptions, append: vmOptions.append },
  plan: (v, positionals) => ({ case: pickCases(positionals.length ? positionals : ['noiommu-dma'])[0]!, kernel: kernelSpecOf(v), append: v.append }),
  async run(p) {
    await ensureHostNeeds(shellNeeds, 'the guest shell');
    const arch = hostArch();
    const qemu = await findQemu(arch);
    const kernel = await resolveKernel(p.kernel);
    const guest = await buildGuest(kernel, undefined, '/bin/busybox');
    const accel = await chooseAccel(qemu, arch, kernel.bzImage);
    note(`${p.case.name}'s VM on ${kernel.spec} (${accel.name.toUpperCase()}): devices bound to vfio-pci, busybox on the console; 'exit' or Ctrl-A X ends it`);
    await runShell(p.case, kernel, guest, accel, arch, qemu, p.append);
    return ExitCode.ok;
  },
});
