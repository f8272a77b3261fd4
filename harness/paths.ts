// Where the project lives and where its build outputs are cached (outside git).
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function cacheDir(): string {
  const explicit = process.env.VFIO_HANDOVER_CACHE;
  if (explicit) return resolve(explicit);
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'vfio-handover');
}

export const fragmentsDir = join(repoRoot, 'kernels', 'fragments');
export const agentSrcDir = join(repoRoot, 'guests', 'agent');
