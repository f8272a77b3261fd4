// The initramfs every case boots: the agent as /init and the kernel as /kernel for kexec stages.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { cacheDir } from '../paths.ts';
import type { Kernel } from '../kernel/build.ts';
import { cpioNewc } from './cpio.ts';
import { buildAgent } from './agent-build.ts';

export interface Guest {
  initramfs: string;
  agent: string;
}

export async function buildGuest(kernel: Kernel): Promise<Guest> {
  const agent = await buildAgent(kernel);
  const k = statSync(kernel.bzImage);
  const key = createHash('sha256')
    .update(`${agent}\0${kernel.bzImage}\0${k.size}\0${k.mtimeMs}`)
    .digest('hex')
    .slice(0, 12);
  const out = join(cacheDir(), 'initramfs', `${basename(dirname(agent))}-${key}.cpio`);
  if (existsSync(out)) return { initramfs: out, agent };
  mkdirSync(dirname(out), { recursive: true });
  const cpio = cpioNewc([
    { path: 'dev', kind: 'dir' },
    { path: 'dev/console', kind: 'chardev', major: 5, minor: 1 },
    { path: 'init', kind: 'file', data: readFileSync(agent), mode: 0o755 },
    { path: 'kernel', kind: 'file', data: readFileSync(kernel.bzImage) },
  ]);
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, cpio);
  renameSync(tmp, out);
  return { initramfs: out, agent };
}
