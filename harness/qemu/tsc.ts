// Under TCG the guest's TSC ticks at the host's rate, but the guest measures it against the PIT in a busy wait that a
// starved QEMU main loop spoils ("PIT calibration deviates from HPET": seen at 78-584 MHz for 2596), and the kernel then
// trusts the PIT: its clock runs many times too fast and every timeout in the guest is wrong. The host measures it instead.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from '../paths.ts';
import { capture } from '../proc.ts';
import type { Accel } from './accel.ts';
import type { Arch } from './arch.ts';

const source = join(repoRoot, 'harness', 'qemu', 'tsc-khz.c');

/** The host's TSC rate in kHz, or undefined where it cannot be measured (not x86, no compiler): the guest calibrates then. */
export async function hostTscKhz(): Promise<number | undefined> {
  const dir = join(cacheDir(), 'host');
  const bin = join(dir, `tsc-khz-${createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    const built = await capture('cc', ['-O2', '-o', `${bin}.tmp`, source]);
    if (!built.ok) return undefined;
    renameSync(`${bin}.tmp`, bin);
  }
  const r = await capture(bin, []);
  const khz = Number(r.stdout.trim());
  return r.ok && Number.isInteger(khz) && khz > 100_000 ? khz : undefined;
}

/** Kernel words that give a TCG guest the TSC rate it would otherwise calibrate badly under load. */
export async function clockWords(accel: Accel, arch: Arch): Promise<string[]> {
  if (accel.name !== 'tcg' || arch.name !== 'x86_64') return [];
  const khz = await hostTscKhz();
  return khz === undefined ? [] : [`tsc_early_khz=${khz}`];
}
