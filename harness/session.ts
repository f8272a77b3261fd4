// What every VM of a run shares, found once before the first boots: QEMU, kernels, guest, accelerator.
import type { Kernel } from './kernel/build.ts';
import { resolveKernel, type KernelSpec } from './kernel/spec.ts';
import { buildGuest, type Guest } from './guest/initramfs.ts';
import { buildKselftests } from './guest/kselftest-build.ts';
import type { Case, Kselftest } from '../cases/case.ts';
import { chooseAccel, type Accel } from './qemu/accel.ts';
import { clockWords } from './qemu/tsc.ts';
import { hostArch, type Arch } from './qemu/arch.ts';
import { findQemu, qemuVersion } from './qemu/binary.ts';
import { defaultTimeouts, type Phase, type RunContext } from './run-case.ts';
import { status } from './progress.ts';

/** A session's input, every part already checked (commands/options.ts). */
export interface SessionRequest {
  kernel: KernelSpec;
  next?: KernelSpec;
  /** --timeout: overrides of the accelerator's defaults. */
  timeouts: Partial<Record<Phase, number>>;
  /** Kselftests the run's cases name: built from the kernel's tree into the initramfs. */
  kselftests?: Kselftest[];
}

/** The kselftests these cases run, each once. */
export function kselftestsOf(cases: Case[]): Kselftest[] {
  const all = cases.flatMap((c) => c.kselftests ?? []);
  return all.filter((k, i) => all.findIndex((o) => o.dir === k.dir && o.program === k.program) === i);
}

export interface Session {
  arch: Arch;
  qemu: string;
  qemuVersion: string;
  kernel: Kernel;
  /** --next-kernel: the kernel stage 1 kexecs into. */
  next?: Kernel;
  guest: Guest;
  accel: Accel;
  /** Kernel words for the guest's clock (harness/qemu/tsc.ts), before the user's. */
  clock: string[];
  timeouts: Record<Phase, number>;
}

/** Finds or builds everything a run needs before its first VM. */
export async function openSession(req: SessionRequest): Promise<Session> {
  const arch = hostArch();
  const qemu = await findQemu(arch);
  const kernel = await resolveKernel(req.kernel);
  const next = req.next ? await resolveKernel(req.next) : undefined;
  const guest = await buildGuest(kernel, next, undefined, await buildKselftests(kernel, req.kselftests ?? []));
  const accel = await chooseAccel(qemu, arch, kernel.bzImage);
  const timeouts = { ...defaultTimeouts(accel), ...req.timeouts };
  return { arch, qemu, qemuVersion: await qemuVersion(qemu), kernel, next, guest, accel, clock: await clockWords(accel, arch), timeouts };
}

/** The context of case `i` of `n`: the session's parts, its output folder, and a progress line per phase. */
export function caseContext(s: Session, outDir: string, i: number, n: number, append?: string): RunContext {
  const started = Date.now();
  const { kernel, next, guest, accel, arch, qemu, timeouts, clock } = s;
  return {
    kernel, next, guest, accel, arch, qemu, timeouts, clock,
    outDir,
    append,
    onPhase: (k, p) => status(`[${i + 1}/${n}] ${k.name}: ${p} (${Math.round((Date.now() - started) / 1000)} s)`, 0),
  };
}
