// KVM when /dev/kvm opens read-write, else TCG; the reason is kept for the report.
import { closeSync, constants, openSync } from 'node:fs';
import { UsageError } from '../errors.ts';

export type AccelName = 'kvm' | 'tcg';
export interface Accel {
  name: AccelName;
  why: string;
}

export function chooseAccel(forced = process.env.VFIO_HANDOVER_ACCEL): Accel {
  if (forced) {
    if (forced !== 'kvm' && forced !== 'tcg') throw new UsageError(`VFIO_HANDOVER_ACCEL must be kvm or tcg, not '${forced}'`);
    return { name: forced, why: 'forced by VFIO_HANDOVER_ACCEL' };
  }
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return { name: 'kvm', why: '/dev/kvm opened read-write' };
  } catch (e) {
    return { name: 'tcg', why: `/dev/kvm: ${(e as NodeJS.ErrnoException).code ?? 'unusable'}` };
  }
}
