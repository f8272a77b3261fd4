// The initramfs every case boots: the agent as /init and the kernel as /kernel for kexec stages.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { cacheDir } from '../paths.ts';
import type { Kernel } from '../kernel/build.ts';
import { cpioNewc } from './cpio.ts';
import { buildAgent } from './agent-build.ts';
import type { BuiltKselftest } from './kselftest-build.ts';
import { KSELFTEST } from '../../cases/contract.ts';

export interface Guest {
  initramfs: string;
  agent: string;
  /** Whether /next-kernel is in the initramfs (stage 1 kexecs into it). */
  next: boolean;
  /** The kselftests asked for: each in /kselftest/<program>, or why the kernel's tree cannot give it. */
  kselftests: BuiltKselftest[];
}

/** The next kernel, when stage 1 kexecs into a different build, rides along as /next-kernel;
 * `busybox` (a static binary) is added for vfio-handover shell; built kselftests go in /kselftest. */
export async function buildGuest(kernel: Kernel, next?: Kernel, busybox?: string, kselftests: BuiltKselftest[] = []): Promise<Guest> {
  const agent = await buildAgent(kernel);
  const stamp = (f: string) => `${f}\0${statSync(f).size}\0${statSync(f).mtimeMs}`;
  const programs = kselftests.flatMap((k) => ('path' in k ? [k] : []));
  const key = createHash('sha256')
    .update(`${agent}\0${stamp(kernel.bzImage)}\0${next ? stamp(next.bzImage) : ''}\0${busybox ? stamp(busybox) : ''}`)
    .update(programs.map((k) => `\0${stamp(k.path)}`).join(''))
    .digest('hex')
    .slice(0, 12);
  const out = join(cacheDir(), 'initramfs', `${basename(dirname(agent))}-${key}.cpio`);
  if (existsSync(out)) return { initramfs: out, agent, next: Boolean(next), kselftests };
  const dir = KSELFTEST.dir.replace(/^\//, '');
  mkdirSync(dirname(out), { recursive: true });
  const cpio = cpioNewc([
    { path: 'dev', kind: 'dir' },
    { path: 'dev/console', kind: 'chardev', major: 5, minor: 1 },
    { path: 'init', kind: 'file', data: readFileSync(agent), mode: 0o755 },
    { path: 'kernel', kind: 'file', data: readFileSync(kernel.bzImage) },
    ...(next ? [{ path: 'next-kernel', kind: 'file' as const, data: readFileSync(next.bzImage) }] : []),
    ...(busybox ? [{ path: 'bin', kind: 'dir' as const }, { path: 'bin/busybox', kind: 'file' as const, data: readFileSync(busybox), mode: 0o755 }] : []),
    ...(programs.length ? [{ path: dir, kind: 'dir' as const }] : []),
    ...programs.map((k) => ({ path: `${dir}/${k.program}`, kind: 'file' as const, data: readFileSync(k.path), mode: 0o755 })),
  ]);
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, cpio);
  renameSync(tmp, out);
  return { initramfs: out, agent, next: Boolean(next), kselftests };
}
