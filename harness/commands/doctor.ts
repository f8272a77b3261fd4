// vfio-handover doctor: what this machine can do, one line each, the fix beside each problem.
import { ExitCode } from '../errors.ts';
import { resolveKernel } from '../kernel/spec.ts';
import { hostArch } from '../qemu/arch.ts';
import { locateQemu } from '../qemu/binary.ts';
import { diagnose } from '../doctor.ts';
import { defineCommand, kernelOptions, kernelSpecOf } from './options.ts';

export const doctorCommand = defineCommand({
  name: 'doctor',
  summary: 'QEMU and its devices, KVM or why not, static gcc, the config check for --kernel SPEC',
  options: { kernel: kernelOptions.kernel, 'series-base': kernelOptions['series-base'] },
  plan: (v) => kernelSpecOf(v),
  async run(spec) {
    const arch = hostArch();
    const findings = await diagnose(locateQemu(arch), arch, await resolveKernel(spec));
    for (const f of findings) process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.what}: ${f.detail}\n`);
    return findings.every((f) => f.ok) ? ExitCode.ok : ExitCode.usage;
  },
});
