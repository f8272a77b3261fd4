// What every command that boots VMs shares: QEMU, kernel, guest, accelerator, results folder, options.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { claims, type Claim } from '../kernels/capabilities.ts';
import { UsageError } from './errors.ts';
import { ensureHostNeeds, onPath, qemuNeeds } from './host-deps.ts';
import type { Kernel } from './kernel/build.ts';
import { defaultKernelSpec, parseKernelSpec, resolveKernel } from './kernel/spec.ts';
import { buildGuest } from './guest/initramfs.ts';
import { chooseAccel } from './qemu/accel.ts';
import { hostArch } from './qemu/arch.ts';
import { defaultTimeouts, type Phase, type RunContext } from './run-case.ts';
import { ResultsDir } from './results.ts';
import { note, status } from './progress.ts';

export async function findQemu(binary: string): Promise<string> {
  const forced = process.env.VFIO_HANDOVER_QEMU;
  if (forced) {
    const found = onPath(forced);
    if (!found) throw new UsageError(`QEMU not found: ${forced} (VFIO_HANDOVER_QEMU)`);
    return found;
  }
  await ensureHostNeeds(qemuNeeds, 'running VMs');
  const found = onPath(binary);
  if (!found) throw new UsageError(`QEMU not found: ${binary} (apt-get install qemu-system-x86)`);
  return found;
}

/** The release our build recorded, when this kernel came from our cache. */
function kernelRelease(kernel: Kernel): string | undefined {
  const meta = join(dirname(kernel.bzImage), 'meta.json');
  if (!existsSync(meta)) return undefined;
  return (JSON.parse(readFileSync(meta, 'utf8')) as { release?: string }).release;
}

async function qemuVersion(qemu: string): Promise<string> {
  const r = await execa(qemu, ['--version'], { reject: false });
  return String(r.stdout).split('\n')[0] ?? 'unknown';
}

export function parseRequire(names: string[] = []): Claim[] {
  for (const n of names) {
    if (!(n in claims)) throw new UsageError(`unknown claim '${n}' for --require: known claims are ${Object.keys(claims).join(', ')}`);
  }
  return names as Claim[];
}

export interface RunValues {
  patches?: string;
  'next-kernel'?: string;
  jobs?: string;
  shard?: string;
  timeout?: string[];
  bisect?: boolean;
  kernel?: string;
  tap?: boolean;
  results?: string;
  append?: string;
  require?: string[];
}

const phases: Phase[] = ['qemu-start', 'boot', 'case', 'kexec', 'poweroff'];

/** --timeout PHASE=SECONDS: seconds of silence allowed in a phase. */
function parseTimeouts(words: string[] = []): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  for (const w of words) {
    const m = /^([a-z-]+)=(\d+(?:\.\d+)?)$/.exec(w);
    if (!m || !phases.includes(m[1] as Phase)) throw new UsageError(`--timeout takes PHASE=SECONDS with PHASE one of ${phases.join(', ')}, not '${w}'`);
    out[m[1] as Phase] = Number(m[2]);
  }
  return out;
}

/** Everything a run needs before its first VM: QEMU, kernel, guest, accelerator, results folder. */
export async function prepare(values: RunValues, caseNames: string[]) {
  const arch = hostArch();
  const qemu = await findQemu(arch.qemu);
  const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec, values.patches));
  const next = values['next-kernel'] ? await resolveKernel(parseKernelSpec(values['next-kernel'])) : undefined;
  const guest = await buildGuest(kernel, next);
  const accel = await chooseAccel(qemu, arch, kernel.bzImage);
  const results = new ResultsDir(values.results);
  const tapOut = Boolean(values.tap) || !process.stdout.isTTY;
  const started = new Date().toISOString();
  const qemuVer = await qemuVersion(qemu);
  const release = kernelRelease(kernel);
  const configHash = kernel.config ? createHash('sha256').update(readFileSync(kernel.config)).digest('hex').slice(0, 16) : undefined;
  results.meta(
    {
      started,
      kernel: { spec: kernel.spec, version: kernel.version, key: kernel.key, bzImage: kernel.bzImage, release, configHash },
      ...(next ? { nextKernel: { spec: next.spec, version: next.version, key: next.key, bzImage: next.bzImage } } : {}),
      accel,
      qemu: qemuVer,
      cases: caseNames,
    },
    {
      runId: results.id,
      startedAt: started,
      kernel: { spec: kernel.spec, version: kernel.version, key: kernel.key, release, configHash },
      environment: { accel: accel.name, accelWhy: accel.why, qemu: qemuVer, arch: arch.name },
    },
  );
  note(`running ${caseNames.length} VM(s) on ${kernel.spec} with ${accel.name.toUpperCase()} (${accel.why}); results in ${results.dir}`);
  const emit = (lines: string[]) => {
    results.tap(lines);
    if (tapOut) process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  };
  const ctx = (i: number, n: number, append?: string): RunContext => {
    const started = Date.now();
    return {
      kernel, guest, accel, arch, qemu,
      outDir: results.dir,
      append,
      timeouts: { ...defaultTimeouts(accel), ...parseTimeouts(values.timeout) },
      onPhase: (k, p) => status(`[${i + 1}/${n}] ${k.name}: ${p} (${Math.round((Date.now() - started) / 1000)} s)`, 0),
    };
  };
  return { results, tapOut, emit, ctx };
}

