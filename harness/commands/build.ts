// vfio-handover build: the host packages runs need, then the kernel and guest for --kernel SPEC.
import { ExitCode } from '../errors.ts';
import { ensureHostNeeds, qemuNeeds, shellNeeds } from '../host-deps.ts';
import { resolveKernel } from '../kernel/spec.ts';
import { buildGuest } from '../guest/initramfs.ts';
import { defineCommand, kernelOptions, kernelSpecOf } from './options.ts';

export const buildCommand = defineCommand({
  name: 'build',
  summary: 'install the host packages runs need, build the kernel and guest for --kernel SPEC',
  options: kernelOptions,
  plan: (v) => kernelSpecOf(v),
  async run(spec) {
    // Everything a run will need, installed now: parallel runs after this never race on apt.
    await ensureHostNeeds([...qemuNeeds, ...shellNeeds], 'running VMs');
    const kernel = await resolveKernel(spec);
    const guest = await buildGuest(kernel);
    process.stdout.write(`kernel ${kernel.bzImage}\ninitramfs ${guest.initramfs}\n${kernel.source ? `source ${kernel.source}\n` : ''}`);
    return ExitCode.ok;
  },
});
