// Out-of-tree kernel build with our fragments, cached by source version and fragment hash.
import { existsSync, mkdirSync, writeFileSync, readFileSync, copyFileSync, rmSync, renameSync, utimesSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../errors.ts';
import { run } from '../proc.ts';
import { hostArch } from '../qemu/arch.ts';
import { note, status, endStatus } from '../progress.ts';
import { describeMiss, fragmentsHash, missingSymbols, parseConfig, type Fragment } from './fragments.ts';
import { withLock } from './lock.ts';

/** A built kernel, as everything downstream sees it. */
export interface Kernel {
  /** What the user named, e.g. debian:7.3. */
  spec: string;
  /** Source version, e.g. 7.3.4-1~bpo13+1. */
  version: string;
  bzImage: string;
  /** The kernel's .config, when known. */
  config?: string;
  /** Output of make headers_install (contains include/). */
  headers: string;
  /** Cache key of this build. */
  key: string;
  /** Kbuild's object folder (O=), kept for incremental builds. */
  objects?: string;
  /** The source tree it was built from (with its scripts/checkpatch.pl). */
  source?: string;
  /** What its build recorded when it ran (absent for a prebuilt image): uname -r, how long, seeded or not. */
  release?: string;
  seconds?: number;
  /** Started from the unpatched build's objects rather than from nothing. */
  seeded?: boolean;
}

/** meta.json beside a cached build: what the build recorded when it ran. */
interface BuildRecord {
  release?: string;
  seconds?: number;
  seeded?: boolean;
}

/** Bump when the recipe changes in a way that changes the output. */
const recipeVersion = 'recipe-1';

export interface BuildRequest {
  spec: string;
  version: string;
  tree: string;
  fragments: Fragment[];
  cache: string;
  /** Rebuild with make every time (a developer's tree) instead of trusting the cache whole. */
  incremental?: boolean;
  /** The tree is the cache's own (Debian source, or a patched copy of it): objects go in a child folder of it. */
  ownTree?: boolean;
  /** Objects of a finished build of the tree this one was copied from: copied first, so make redoes only what differs. */
  seed?: string;
  /** Files of the tree that differ from the seed's tree: made newer than the seed's objects. */
  changed?: string[];
}

export function buildKey(req: Pick<BuildRequest, 'version' | 'fragments'>): string {
  return `${req.version.replace(/[^A-Za-z0-9.+-]/g, '_')}-${fragmentsHash(req.fragments, recipeVersion)}`;
}

/**
 * Where Kbuild puts objects. In a direct child of the source tree Kbuild names sources by relative
 * paths (srctree is ".."), so a copy of tree and objects together rebuilds correctly and incrementally.
 */
function objectsDir(req: BuildRequest, key: string): string {
  return req.ownTree ? join(req.tree, `.vh-build-${key}`) : join(req.cache, 'kernels', key, 'build');
}

function kernelFrom(dir: string, req: BuildRequest, key: string): Kernel {
  const { spec, version } = req;
  const meta = join(dir, 'meta.json');
  const { release, seconds, seeded } = existsSync(meta) ? (JSON.parse(readFileSync(meta, 'utf8')) as BuildRecord) : {};
  const files = { bzImage: join(dir, 'bzImage'), config: join(dir, 'config'), headers: join(dir, 'headers') };
  return { spec, version, key, ...files, objects: objectsDir(req, key), source: req.tree, release, seconds, seeded };
}

export async function buildKernel(req: BuildRequest): Promise<Kernel> {
  const key = buildKey(req);
  const dir = join(req.cache, 'kernels', key);
  const done = join(dir, '.complete');
  if (existsSync(done) && !req.incremental) return kernelFrom(dir, req, key);
  return withLock(`${dir}.lock`, async () => {
    if (existsSync(done) && !req.incremental) return kernelFrom(dir, req, key);
    const out = objectsDir(req, key);
    mkdirSync(dir, { recursive: true });
    const seeded = !existsSync(join(out, '.config')) && req.seed !== undefined && (await seedObjects(req.seed, req, out));
    mkdirSync(out, { recursive: true });
    const t0 = Date.now();
    const make = (args: string[], label: string) => runMake(req.tree, out, args, label, t0);
    const configured = req.incremental && existsSync(join(out, '.config'));
    if (!configured) await configure(req, out, make, key);
    const jobs = String(availableParallelism() + 1);
    await make([`-j${jobs}`, 'bzImage'], 'bzImage');
    const hdr = join(dir, 'headers.tmp');
    rmSync(hdr, { recursive: true, force: true });
    await make(['headers_install', `INSTALL_HDR_PATH=${hdr}`], 'headers_install');
    rmSync(join(dir, 'headers'), { recursive: true, force: true });
    renameSync(hdr, join(dir, 'headers'));
    // Copied only when it changed: an unchanged tree keeps its image, and so its cached initramfs.
    copyIfChanged(join(out, hostArch().kernelImage), join(dir, 'bzImage'));
    copyFileSync(join(out, '.config'), join(dir, 'config'));
    const release = readFileSync(join(out, 'include/config/kernel.release'), 'utf8').trim();
    const seconds = Math.round((Date.now() - t0) / 1000);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ spec: req.spec, version: req.version, key, release, seconds, seeded }, null, 2));
    writeFileSync(done, '');
    note(`kernel ${req.spec}: built ${release} in ${seconds} s${seeded ? ' (on the objects of the unpatched build)' : ''}`);
    return kernelFrom(dir, req, key);
  });
}

/** Starts from a related build's objects; make then recompiles only what the changed files and config reach. */
async function seedObjects(seed: string, req: BuildRequest, out: string): Promise<boolean> {
  // A cache from before objects lived in the tree has none to share: build in full.
  if (!existsSync(join(seed, '.config'))) return false;
  note(`kernel ${req.spec}: starting from the objects in ${seed}`);
  rmSync(`${out}.tmp`, { recursive: true, force: true });
  // -a keeps the objects' times, which is what lets make tell them from the changed sources.
  await run('cp', ['-a', '--reflink=auto', seed, `${out}.tmp`], { failure: `copying objects from ${seed} failed` });
  renameSync(`${out}.tmp`, out);
  // The patched copy may predate the seed's objects: its changed files must look newer to make.
  const now = new Date();
  for (const f of req.changed ?? []) if (existsSync(join(req.tree, f))) utimesSync(join(req.tree, f), now, now);
  return true;
}

type Make = (args: string[], label: string) => Promise<void>;

function copyIfChanged(from: string, to: string): void {
  if (existsSync(to) && readFileSync(from).equals(readFileSync(to))) return;
  copyFileSync(from, to);
}

/** allnoconfig, our fragments merged by the kernel's own script, olddefconfig, then every symbol checked. */
async function configure(req: BuildRequest, out: string, make: Make, key: string): Promise<void> {
  note(`kernel ${req.spec} (${req.version}, fragments ${key.split('-').pop()}): configuring`);
  await make(['allnoconfig'], 'allnoconfig');
  await run(join(req.tree, 'scripts/kconfig/merge_config.sh'), ['-m', '-O', out, join(out, '.config'), ...req.fragments.map((f) => f.path)], { cwd: req.tree });
  await make(['olddefconfig'], 'olddefconfig');
  const config = parseConfig(readFileSync(join(out, '.config'), 'utf8'));
  const misses = missingSymbols(config, req.fragments);
  if (misses.length > 0) throw new InfraError(`kernel config check failed: ${misses.map(describeMiss).join('; ')}`);
}

async function runMake(tree: string, out: string, args: string[], label: string, t0: number): Promise<void> {
  let objects = 0;
  const onLine = (line: string) => {
    if (!/^\s+(CC|AS|LD|AR)\b/.test(line)) return;
    objects++;
    status(`kernel: make ${label}: ${objects} objects, ${Math.round((Date.now() - t0) / 1000)} s`);
  };
  try {
    await run('make', ['-C', tree, `O=${out}`, ...args], { onLine, shown: `make ${label}`, failure: 'kernel build failed' });
  } finally {
    endStatus();
  }
}
