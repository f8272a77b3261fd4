// vfio-handover: the command line. Parses, dispatches, maps outcomes to exit codes; never a stack trace.
import { parseArgs } from 'node:util';
import { allCases, pickCases } from '../cases/index.ts';
import { claims } from '../kernels/capabilities.ts';
import { ExitCode, InfraError, UsageError } from './errors.ts';
import { ensureHostNeeds, onPath, qemuNeeds, shellNeeds } from './host-deps.ts';
import { defaultKernelSpec, parseKernelSpec, resolveKernel } from './kernel/spec.ts';
import { buildGuest } from './guest/initramfs.ts';
import { chooseAccel } from './qemu/accel.ts';
import { hostArch } from './qemu/arch.ts';
import { diagnose } from './doctor.ts';
import { runShell } from './shell.ts';
import { note, endStatus } from './progress.ts';
import { findQemu } from './session.ts';
import { cmdRun } from './commands/run.ts';
import { cmdBench } from './commands/bench.ts';
import { cmdSelftest } from './commands/selftest.ts';

const usage = `usage: vfio-handover <command> [options]
  run [CASE...]      run cases (default: the whole suite) and print TAP
      --kernel SPEC  ${defaultKernelSpec}[+SERIES] (default ${defaultKernelSpec}) | tree:PATH | image:PATH[,config=PATH][,headers=DIR]
      --patches PATH an mbox or a folder of patches, applied with git am onto a copy of the --kernel source
      --next-kernel SPEC  the kernel stage 1 kexecs into (upgrade and downgrade paths)
      --tap          TAP on stdout even on a terminal
      --jobs N       VMs at once (default: from cores and free memory); output is the same either way
      --shard I/N    run every Nth case starting at the Ith (CI matrices)
      --results DIR  write results/<run-id> under DIR (default: results/)
      --append WORDS extra guest kernel command-line words (they win over ours)
      --timeout PHASE=S  seconds of silence allowed in a phase (qemu-start, boot, case, kexec, poweroff)
      --bisect       for git bisect run: build failures and infrastructure errors exit 125
      --require CLAIM  a SKIP for this kernel claim is a failure (${Object.keys(claims).join(', ')}); repeatable
  selftest           run the negative controls: drivers that cheat on purpose; ok = caught
  bench [--rounds K] [--skip-suite]
                     the handover case against a bare boot, K interleaved rounds, and the suite
                     serial against --jobs 2; ratios, not seconds
  shell [CASE]       the case's VM, devices bound to vfio-pci, a busybox shell on the console
  doctor             QEMU and its devices, KVM or why not, static gcc, the config check for --kernel SPEC
  build              install the host packages runs need, build the kernel and guest for --kernel SPEC
  list               list the cases`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kernel: { type: 'string' },
      tap: { type: 'boolean' },
      results: { type: 'string' },
      append: { type: 'string' },
      require: { type: 'string', multiple: true },
      timeout: { type: 'string', multiple: true },
      bisect: { type: 'boolean' },
      jobs: { type: 'string', short: 'j' },
      shard: { type: 'string' },
      rounds: { type: 'string' },
      patches: { type: 'string' },
      'next-kernel': { type: 'string' },
      'skip-suite': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === 'help' || command === undefined) {
    process.stdout.write(`${usage}\n`);
    return command === undefined && !values.help ? ExitCode.usage : ExitCode.ok;
  }
  switch (command) {
    case 'run':
      return cmdRun(rest, values);
    case 'selftest':
      return cmdSelftest(values);
    case 'bench':
      return cmdBench(values);
    case 'build': {
      // Everything a run will need, installed now: parallel runs after this never race on apt.
      await ensureHostNeeds([...qemuNeeds, ...shellNeeds], 'running VMs');
      const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec, values.patches));
      const guest = await buildGuest(kernel);
      process.stdout.write(`kernel ${kernel.bzImage}\ninitramfs ${guest.initramfs}\n${kernel.source ? `source ${kernel.source}\n` : ''}`);
      return ExitCode.ok;
    }
    case 'shell': {
      const [c] = pickCases(rest.length ? rest : ['noiommu-dma']);
      await ensureHostNeeds(shellNeeds, 'the guest shell');
      const arch = hostArch();
      const qemu = await findQemu(arch.qemu);
      const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec, values.patches));
      const guest = await buildGuest(kernel, undefined, '/bin/busybox');
      const accel = await chooseAccel(qemu, arch, kernel.bzImage);
      note(`${c!.name}'s VM on ${kernel.spec} (${accel.name.toUpperCase()}): devices bound to vfio-pci, busybox on the console; 'exit' or Ctrl-A X ends it`);
      return (await runShell(c!, kernel, guest, accel, arch, qemu, values.append)) === 0 ? ExitCode.ok : ExitCode.infra;
    }
    case 'doctor': {
      const arch = hostArch();
      const qemu = process.env.VFIO_HANDOVER_QEMU ? onPath(process.env.VFIO_HANDOVER_QEMU) : onPath(arch.qemu);
      const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec));
      const findings = await diagnose(qemu, arch, kernel);
      for (const f of findings) process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.what}: ${f.detail}\n`);
      return findings.every((f) => f.ok) ? ExitCode.ok : ExitCode.usage;
    }
    case 'list':
      for (const c of allCases) process.stdout.write(`${c.name.padEnd(16)} ${c.summary}\n`);
      return ExitCode.ok;
    default:
      throw new UsageError(`unknown command '${command}': 'vfio-handover help' lists the commands`);
  }
}

const bisect = process.argv.includes('--bisect');
/** git bisect run: 125 means "cannot test this commit", so infrastructure must not read as bad. */
const exitWith = (code: number) => process.exit(bisect && code === ExitCode.infra ? ExitCode.bisectSkip : code);

main(process.argv.slice(2)).then(
  (code) => exitWith(code),
  (e: unknown) => {
    endStatus();
    const err = e as Error & { code?: string };
    if (err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vfio-handover: ${err.message}\n`);
      process.exit(ExitCode.usage);
    }
    const prefix = err instanceof InfraError ? '' : 'internal error: ';
    process.stderr.write(`vfio-handover: ${prefix}${err.message}\n`);
    if (process.env.VFIO_HANDOVER_DEBUG) process.stderr.write(`${err.stack}\n`);
    exitWith(ExitCode.infra);
  },
);
