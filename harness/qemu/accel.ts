// KVM when /dev/kvm opens and a KVM guest really runs, else TCG; the reason goes in every report.
import { closeSync, constants, openSync } from 'node:fs';
import { UsageError } from '../errors.ts';
import { capture } from '../proc.ts';
import type { Arch } from './arch.ts';

export type AccelName = 'kvm' | 'tcg';
export interface Accel {
  name: AccelName;
  why: string;
}

export function accelArgs(a: AccelName): string[] {
  return a === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg'];
}

/** Boots the kernel under KVM until it prints its banner; nested setups can open /dev/kvm yet never run a guest. */
async function probeKvm(qemu: string, arch: Arch, kernel: string, seconds: number): Promise<string | undefined> {
  const args = ['-M', arch.machine, ...accelArgs('kvm'), '-m', '128M', '-nodefaults', '-no-user-config', '-display', 'none',
    '-monitor', 'none', '-no-reboot', '-serial', 'stdio', '-kernel', kernel, '-append', `console=${arch.console} panic=-1`];
  const r = await capture(qemu, args, { until: (line) => line.includes('Linux version'), timeoutMs: seconds * 1000 });
  if (r.stopped) return undefined;
  if (r.timedOut) return `KVM guest printed nothing in ${seconds} s`;
  return `QEMU with KVM exited: ${r.line || r.how}`;
}

export async function chooseAccel(qemu: string, arch: Arch, kernel: string, forced = process.env.VFIO_HANDOVER_ACCEL): Promise<Accel> {
  if (forced) {
    if (forced !== 'kvm' && forced !== 'tcg') throw new UsageError(`VFIO_HANDOVER_ACCEL must be kvm or tcg, not '${forced}'`);
    return { name: forced, why: 'forced by VFIO_HANDOVER_ACCEL' };
  }
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
  } catch (e) {
    return { name: 'tcg', why: `/dev/kvm: ${(e as NodeJS.ErrnoException).code ?? 'unusable'}` };
  }
  const broken = await probeKvm(qemu, arch, kernel, 8);
  return broken ? { name: 'tcg', why: `/dev/kvm opens but ${broken}` } : { name: 'kvm', why: '/dev/kvm works' };
}
