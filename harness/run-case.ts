// Runs one case in one VM: phases with their own timeouts, channels saved as they arrive.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modeOf, type Case } from '../cases/case.ts';
import { marker, word, type Key } from '../cases/contract.ts';
import type { Kselftest } from '../cases/case.ts';
import { fragmentPath } from '../kernels/capabilities.ts';
import type { RequiredClaim } from '../cases/claims.ts';
import type { Kernel } from './kernel/build.ts';
import { describeMiss, loadFragment, missingSymbols, parseConfig } from './kernel/fragments.ts';
import type { Guest } from './guest/initramfs.ts';
import type { Accel } from './qemu/accel.ts';
import type { Arch } from './qemu/arch.ts';
import { bdfOf, placeDevices, type VmDevice } from './qemu/argv.ts';
import { Vm } from './qemu/vm.ts';
import { describeVcpus } from './qemu/qmp.ts';
import { traceEvents } from './qemu/trace.ts';
import { Silence } from './silence.ts';
import { judge, skipped, type CaseResult, type Observation } from './verdict.ts';

export type Phase = 'qemu-start' | 'boot' | 'case' | 'kexec' | 'poweroff';

export interface RunContext {
  kernel: Kernel;
  /** The kernel stage 1 kexecs into (--next-kernel), when not the same one. */
  next?: Kernel;
  guest: Guest;
  accel: Accel;
  arch: Arch;
  qemu: string;
  outDir: string;
  /** Seconds of silence allowed in each phase. */
  timeouts: Record<Phase, number>;
  /** Kernel words for the guest's clock (harness/qemu/tsc.ts). */
  clock?: string[];
  /** Extra kernel command-line words from the user; they come last, so they win. */
  append?: string;
  /** Claims whose SKIP is a failure. */
  require?: RequiredClaim[];
  onPhase?: (c: Case, phase: Phase) => void;
}

export function defaultTimeouts(accel: Accel): Record<Phase, number> {
  const slow = accel.name === 'tcg' ? 3 : 1;
  return { 'qemu-start': 20 * slow, boot: 20 * slow, case: 30 * slow, kexec: 20 * slow, poweroff: 10 * slow };
}

/** The case's capabilities checked against the config of every kernel it boots, where the config is known:
 * stage 1 runs on `kernel`, the stages after a kexec on `next` (--next-kernel) when there is one. */
export function missingCapability(c: Case, kernel: Kernel, next?: Kernel): string | undefined {
  const first = configLacks(c, kernel);
  if (first) return `kernel config lacks capability: ${first}`;
  const later = next && c.stages.length > 1 ? configLacks(c, next) : undefined;
  return later && `next kernel (${next!.spec}) config lacks capability: ${later}`;
}

/** The first symbol of the case's capabilities that this kernel's config lacks. */
function configLacks(c: Case, kernel: Kernel): string | undefined {
  if (!kernel.config) return undefined;
  const config = parseConfig(readFileSync(kernel.config, 'utf8'));
  const miss = missingSymbols(config, c.capabilities.map((cap) => loadFragment(fragmentPath(cap))))[0];
  return miss && describeMiss(miss);
}

/** Why the case cannot run its kselftests on this guest (the kernel's tree lacks one, or the run did not build it). */
export function missingKselftest(c: Case, guest: Guest): string | undefined {
  for (const k of c.kselftests ?? []) {
    const got = guest.kselftests.find((g) => g.program === k.program);
    if (!got) return `kselftest ${k.dir}/${k.program} was not built for this run`;
    if ('missing' in got) return got.missing;
  }
  return undefined;
}

/** `vh.kselftest=<program>[,<arg>...][;<program>...]`: the agent runs each from /kselftest with the device's BDF last. */
export function kselftestWord(tests: Kselftest[]): string {
  for (const a of tests.flatMap((k) => [k.program, ...(k.args ?? [])])) {
    if (!/^[\w.:=+-]+$/.test(a)) throw new Error(`kselftest argument '${a}' cannot ride on the kernel command line`);
  }
  return word('kselftest', tests.map((k) => [k.program, ...(k.args ?? [])].join(',')).join(';'));
}

export function kernelCmdline(c: Case, devices: VmDevice[], arch: Arch, append = ''): string {
  const words = [
    `console=${arch.console}`,
    'panic=-1',
    'vfio.enable_unsafe_noiommu_mode=1',
    'liveupdate=on',
    'retain_initrd',
    // The driver core's record of every probe, driver named (KERN_DEBUG: kmsg only), in a log big enough to keep it.
    'initcall_debug',
    'log_buf_len=1M',
    // The 8254-through-IO-APIC check counts ticks in a busy wait a starved TCG vCPU can miss; with interrupt remapping
    // (iommu mode) the kernel then panics instead of falling back ("timer doesn't work through Interrupt-remapped IO-APIC").
    'no_timer_check',
    word('case', c.name),
    ...c.devices.map((d, i) => word(d.role, bdfOf(devices[i]!))),
    ...(Object.entries(c.params) as [Key, string | number][]).map(([k, v]) => word(k, v)),
    ...(modeOf(c) === 'iommu' ? [word('mode', 'iommu')] : []),
    ...(c.kselftests?.length ? [kselftestWord(c.kselftests)] : []),
    ...append.split(/\s+/).filter(Boolean),
  ];
  return words.join(' ');
}

export async function runCase(c: Case, ctx: RunContext): Promise<CaseResult> {
  const lacks = missingCapability(c, ctx.kernel, ctx.next) ?? missingKselftest(c, ctx.guest);
  if (lacks) return skipped(c, lacks);

  const devices = caseDevices(c, ctx.arch, ctx.outDir);
  const consoleLog = join(ctx.outDir, `${c.name}.console.log`);
  const resultLog = join(ctx.outDir, `${c.name}.result.log`);
  const traceLog = join(ctx.outDir, `${c.name}.trace.log`);
  // When each result line arrived (epoch ms), so a recorded run can be judged against its trace log later.
  const timesLog = join(ctx.outDir, `${c.name}.result.times`);
  writeFileSync(consoleLog, '');
  writeFileSync(resultLog, '');
  writeFileSync(timesLog, '');
  const obs: Observation = { resultLines: [], resultTimes: [], console: '', timings: {} };
  const t0 = Date.now();
  let phase: Phase = 'qemu-start';
  const silence = new Silence(Date.now(), 250);
  let vm: Vm | undefined;

  const enter = (p: Phase) => {
    phase = p;
    silence.progress(Date.now());
    ctx.onPhase?.(c, p);
  };

  // A unix socket path holds 107 bytes: a results folder deep enough (the matrix's, a long case name) cannot hold them.
  const sockets = mkdtempSync(join(tmpdir(), 'vh-'));
  const exited = new Promise<void>((resolve) => {
    void Vm.start(
      {
        arch: ctx.arch,
        accel: ctx.accel,
        qemu: ctx.qemu,
        kernel: ctx.kernel.bzImage,
        initrd: ctx.guest.initramfs,
        cmdline: kernelCmdline(c, devices, ctx.arch, [...(ctx.clock ?? []), ctx.guest.next ? word('next', '/next-kernel') : '', ctx.append ?? ''].join(' ')),
        memoryMiB: c.memoryMiB ?? 512,
        cpus: c.cpus ?? 1,
        numaNodes: c.numaNodes,
        devices,
        iommu: modeOf(c) === 'iommu',
        consoleFile: consoleLog,
        resultSocket: join(sockets, 'result'),
        qmpSocket: join(sockets, 'qmp'),
        name: join(ctx.outDir, c.name),
        ...(c.deviceEvents ? { trace: { events: c.deviceEvents.events, file: traceLog } } : {}),
      },
      {
        console(chunk) {
          if (obs.console === '') {
            obs.timings!.first_console_byte_ms = Date.now() - t0;
            enter('boot');
          }
          obs.console += chunk;
          if (phase !== 'boot') silence.progress(Date.now());
        },
        result(line) {
          obs.resultLines.push(line);
          obs.resultTimes!.push(Date.now() - t0);
          appendFileSync(resultLog, `${line}\n`);
          appendFileSync(timesLog, `${t0 + obs.resultTimes!.at(-1)!}\n`);
          if (line.startsWith(marker('start'))) {
            obs.timings!.agent_start_ms ??= Date.now() - t0;
            enter('case');
          } else if (line.startsWith(marker('kexec'))) {
            enter('kexec');
          } else if (line.startsWith(marker('done'))) {
            obs.timings!.agent_done_ms = Date.now() - t0;
            enter('poweroff');
          } else {
            silence.progress(Date.now());
          }
        },
        exit(code, signal, stderr) {
          obs.exit = { code, signal, stderr };
          resolve();
        },
      },
    ).then(
      (v) => (vm = v),
      (e: Error) => {
        obs.exit = { code: null, signal: null, stderr: e.message };
        resolve();
      },
    );
  });

  const ticker = setInterval(() => {
    const limit = ctx.timeouts[phase];
    if (silence.tick(Date.now()) > limit * 1000 && !obs.timeout) {
      // After the agent said done, a slow power-off loses nothing: stop QEMU and judge.
      if (phase === 'poweroff') return vm?.kill();
      obs.timeout = { phase, seconds: limit };
      void stopHung(vm, obs.timeout, ctx.kernel, join(ctx.outDir, `${c.name}.vcpus.txt`));
    }
  }, 250);
  await exited;
  clearInterval(ticker);
  rmSync(sockets, { recursive: true, force: true });
  for (const d of devices) if (d.drive) rmSync(d.drive, { force: true });
  if (c.deviceEvents && existsSync(traceLog)) Object.assign(obs, deviceObservation(c.deviceEvents.only, readFileSync(traceLog, 'utf8'), t0));
  obs.timings!.wall_ms = Date.now() - t0;
  return judge(c, obs, { require: ctx.require });
}

/** What the judge reads of QEMU's trace log: every event, and the times of those `only` picks (the device gap). */
export function deviceObservation(only: RegExp | undefined, text: string, t0: number): Pick<Observation, 'deviceTrace' | 'deviceEvents'> {
  const deviceTrace = traceEvents(text, t0);
  const deviceEvents = deviceTrace.filter((e) => !only || only.test(`${e.name} ${e.args}`)).map((e) => e.at);
  return { deviceTrace, deviceEvents };
}

/** The case's devices placed on the VM, each that asks for a drive given a blank sparse raw disk in dir. */
export function caseDevices(c: Case, arch: Arch, dir: string): VmDevice[] {
  return placeDevices(c.devices, arch.firstSlot).map((d, i) => {
    const mib = c.devices[i]!.driveMiB;
    if (!mib) return d;
    const path = join(dir, `.${c.name}.${i}.img`);
    writeFileSync(path, '');
    truncateSync(path, mib * 1024 * 1024);
    return { ...d, drive: path, driveIops: c.devices[i]!.driveIops };
  });
}

/** Records where each vCPU of a hung guest is (RIP, halted or not, symbol) before QEMU is killed. */
async function stopHung(vm: Vm | undefined, timeout: NonNullable<Observation['timeout']>, kernel: Kernel, file: string): Promise<void> {
  const got = await vm?.vcpus(kernel.objects && join(kernel.objects, 'System.map'));
  if (got) {
    timeout.vcpus = describeVcpus(got.states);
    writeFileSync(file, `${timeout.vcpus}\n\n${got.raw}`);
  }
  vm?.kill();
}
