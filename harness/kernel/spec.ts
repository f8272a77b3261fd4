// Kernel specs users name on the command line, and turning one into a built Kernel.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { cacheDir } from '../paths.ts';
import { ensureHostNeeds, kernelBuildNeeds } from '../host-deps.ts';
import { allFragments } from './fragments.ts';
import { buildKernel, type Kernel } from './build.ts';
import { debianKernelSource } from './debian-source.ts';

export type KernelSpec =
  | { kind: 'debian'; series: string; text: string }
  | { kind: 'image'; bzImage: string; config?: string; headers?: string; text: string };

export const defaultKernelSpec = 'debian:7.3';

export function parseKernelSpec(text: string): KernelSpec {
  const debian = /^debian:(\d+\.\d+)$/.exec(text);
  if (debian) return { kind: 'debian', series: debian[1]!, text };
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
  throw new UsageError(`unknown kernel spec '${text}': use ${defaultKernelSpec} or image:PATH[,config=PATH]`);
}

export async function resolveKernel(spec: KernelSpec): Promise<Kernel> {
  const cache = cacheDir();
  if (spec.kind === 'debian') {
    await ensureHostNeeds(kernelBuildNeeds, `building kernel ${spec.text}`);
    const src = await debianKernelSource(spec.series, cache);
    return buildKernel({ spec: spec.text, version: src.version, tree: src.tree, fragments: allFragments(), cache });
  }
  // A prebuilt image brings no uapi headers of its own: the agent builds against the default kernel's.
  const headers = spec.headers ?? (await resolveKernel(parseKernelSpec(defaultKernelSpec))).headers;
  return { spec: spec.text, version: 'prebuilt', bzImage: spec.bzImage, config: spec.config, headers, key: `image-${spec.bzImage}` };
}
