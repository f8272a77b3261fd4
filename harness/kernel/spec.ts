// Kernel specs users name on the command line, and turning one into a built Kernel.
import { existsSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { cacheDir, repoRoot } from '../paths.ts';
import { loadSeries, patchedTree, touchedFiles } from './patches.ts';
import { ensureHostNeeds, kernelBuildNeeds } from '../host-deps.ts';
import { allFragments, type Fragment } from './fragments.ts';
import { buildKernel, type BuildRequest, type Kernel } from './build.ts';
import { debianKernelSource } from './debian-source.ts';
import { seriesBaseFor } from './series-base.ts';

export type KernelSpec =
  | { kind: 'debian'; series: string; text: string; patches?: string; base?: string }
  | { kind: 'tree'; path: string; text: string; patches?: string; base?: string }
  | { kind: 'image'; bzImage: string; config?: string; headers?: string; text: string };

export const defaultKernelSpec = 'debian:7.3';

/** debian:X.Y[+SERIES], tree:PATH, image:PATH[,config=PATH][,headers=DIR]; --patches adds a series to the first two,
 * --series-base the patches that series sits on (required exactly when its folder names a base). */
export function parseKernelSpec(text: string, patches?: string, seriesBase?: string): KernelSpec {
  if (patches !== undefined && !existsSync(resolve(patches))) throw new UsageError(`patch series not found: ${resolve(patches)}`);
  const debian = /^debian:(\d+\.\d+)(?:\+([A-Za-z0-9._-]+))?$/.exec(text);
  if (debian) {
    const named = debian[2] ? join(repoRoot, 'kernels', 'patches', debian[2]) : undefined;
    if (named && !existsSync(named)) throw new UsageError(`unknown patch series '${debian[2]}' in ${text}: no ${named}`);
    if (named && patches) throw new UsageError(`${text} names a series already; --patches cannot add another`);
    const base = seriesBaseFor(named ?? patches, seriesBase, named ? text : patches ? `--patches ${patches}` : text);
    return { kind: 'debian', series: debian[1]!, text, patches: named ?? patches, ...(base ? { base } : {}) };
  }
  if (text.startsWith('tree:')) {
    const path = resolve(text.slice('tree:'.length));
    if (!existsSync(join(path, 'Makefile')) || !existsSync(join(path, 'Kconfig'))) throw new UsageError(`not a kernel source tree: ${path}`);
    if (existsSync(join(path, '.config'))) throw new UsageError(`kernel tree ${path} has been built in place (.config): run 'make mrproper' there, we build out of tree`);
    const base = seriesBaseFor(patches, seriesBase, patches ? `--patches ${patches}` : text);
    return { kind: 'tree', path, text, patches, ...(base ? { base } : {}) };
  }
  if (seriesBase !== undefined) throw new UsageError(`--series-base applies to a debian: or tree: kernel with a series, not ${text}`);
  if (patches) throw new UsageError(`--patches applies to debian: and tree: kernels, not ${text}`);
  if (text.startsWith('image:')) {
    const [path, ...opts] = text.slice('image:'.length).split(',');
    const spec: KernelSpec = { kind: 'image', bzImage: resolve(path ?? ''), text };
    for (const opt of opts) {
      const [k, v] = opt.split('=', 2);
      if (k === 'config' && v) spec.config = resolve(v);
      else if (k === 'headers' && v) spec.headers = resolve(v);
      else throw new UsageError(`unknown option '${opt}' in kernel spec ${text} (image:PATH[,config=PATH][,headers=DIR])`);
    }
    for (const [what, p] of [['kernel image', spec.bzImage], ['kernel config', spec.config], ['headers folder', spec.headers]] as const) {
      if (p !== undefined && !existsSync(p)) throw new UsageError(`${what} not found: ${p}`);
    }
    if (!statSync(spec.bzImage).isFile()) throw new UsageError(`kernel image is not a file: ${spec.bzImage}`);
    return spec;
  }
  throw new UsageError(`unknown kernel spec '${text}': use ${defaultKernelSpec}[+SERIES], tree:PATH or image:PATH[,config=PATH]`);
}

const treeVersion = (path: string) => `tree-${createHash('sha256').update(path).digest('hex').slice(0, 10)}`;

/** A series applied to a copy of a tree, with the series' own fragments, built in that copy. */
async function buildPatched(text: string, patches: string, base: string | undefined, tree: string, version: string, cache: string, fragments: Fragment[], seed?: string): Promise<Kernel> {
  const series = loadSeries(patches, base);
  return buildKernel({
    spec: text,
    version: `${version}+p${series.hash}`,
    tree: await patchedTree(tree, version, series, cache),
    fragments: [...fragments, ...series.fragments],
    cache,
    ownTree: true,
    seed,
    changed: touchedFiles(series),
  });
}

export async function resolveKernel(spec: KernelSpec): Promise<Kernel> {
  const cache = cacheDir();
  if (spec.kind === 'debian' || spec.kind === 'tree') {
    await ensureHostNeeds(kernelBuildNeeds, `building kernel ${spec.text}`);
    const fragments = allFragments();
    if (spec.kind === 'debian') {
      const src = await debianKernelSource(spec.series, cache);
      const base: BuildRequest = { spec: `debian:${spec.series}`, version: src.version, tree: src.tree, fragments, cache, ownTree: true };
      if (!spec.patches) return buildKernel({ ...base, spec: spec.text });
      // The unpatched build is shared: its objects seed this one, so make recompiles only what the series reaches.
      const seed = await buildKernel(base);
      return buildPatched(spec.text, spec.patches, spec.base, src.tree, src.version, cache, fragments, seed.objects);
    }
    if (spec.patches) return buildPatched(spec.text, spec.patches, spec.base, spec.path, treeVersion(spec.path), cache, fragments);
    // A developer's tree changes under us: make decides what to rebuild. Everything else is cached whole.
    return buildKernel({ spec: spec.text, version: treeVersion(spec.path), tree: spec.path, fragments, cache, incremental: true });
  }
  // A prebuilt image brings no uapi headers of its own: the agent builds against the default kernel's.
  const headers = spec.headers ?? (await resolveKernel(parseKernelSpec(defaultKernelSpec))).headers;
  return { spec: spec.text, version: 'prebuilt', bzImage: spec.bzImage, config: spec.config, headers, key: `image-${spec.bzImage}` };
}
