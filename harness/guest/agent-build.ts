// Compiles the guest agent (C, static) against the kernel under test's installed uapi headers.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../proc.ts';
import { agentSrcDir, cacheDir } from '../paths.ts';
import { agentBuildNeeds, ensureHostNeeds } from '../host-deps.ts';
import type { Kernel } from '../kernel/build.ts';

const cflags = ['-static', '-O2', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-std=gnu11'];

export function agentSources(): string[] {
  return readdirSync(agentSrcDir)
    .filter((f) => f.endsWith('.c') || f.endsWith('.h'))
    .sort()
    .map((f) => join(agentSrcDir, f));
}

export function agentHash(headersKey: string): string {
  const h = createHash('sha256').update(headersKey).update(cflags.join(' '));
  for (const f of agentSources()) h.update(f).update(readFileSync(f));
  return h.digest('hex').slice(0, 12);
}

/** Returns the path of the static agent binary, building it when missing. */
export async function buildAgent(kernel: Kernel): Promise<string> {
  await ensureHostNeeds(agentBuildNeeds, 'building the guest agent');
  const dir = join(cacheDir(), 'agents', agentHash(kernel.headers));
  const out = join(dir, 'vh-agent');
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const sources = agentSources().filter((f) => f.endsWith('.c'));
  const tmp = `${out}.${process.pid}.tmp`;
  await run('gcc', [...cflags, '-I', join(kernel.headers, 'include'), '-o', tmp, ...sources], { failure: 'guest agent build failed' });
  renameSync(tmp, out);
  return out;
}
