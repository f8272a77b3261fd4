// The kernels the e2e files boot, so the global setup can build them all before any VM starts.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { cacheDir } from '../../harness/paths.ts';
import { kernelControls } from '../../harness/selftest.ts';

export const fixtures = resolve(import.meta.dirname, '..', 'fixtures');
export const goodPatches = join(fixtures, 'patches-good');
export const referenceSeries = 'debian:7.3+noiommu-handover';
const controlsDir = resolve(import.meta.dirname, '..', '..', 'kernels', 'patches', 'controls');
/** A control kernel without IOMMU_IOAS_NOIOMMU_GET_PA: noiommu-dma on it must SKIP naming ENOTTY, never pass. */
export const noGetPaControl = resolve(controlsDir, 'no-get-pa');
/** The reference series plus a patch refusing to preserve after a live update: a chain's hop 2 must fail, not SKIP. */
export const oneHopControl = resolve(controlsDir, 'one-hop');
/** A control kernel that WARNs once at boot: every case on it must fail on kernel_warnings. */
export const warnControl = resolve(controlsDir, 'warn-at-boot');

/** The reference series with one guarantee broken each (harness/selftest.ts kernelControls): selftest on the series runs them. */
const kernelControlPatches = kernelControls.map((k) => resolve(import.meta.dirname, '..', '..', k.patches));

/** Upstream PCI live update v7 + VFIO live update v5 on 7.3.4, where the workspace has it (../shared beside the repo). */
export const upstreamSeries = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'upstream', 'vfio-pci-lu-v5');
/** Reference series v2, on top of upstreamSeries (its series-base file names it; --series-base supplies it). */
export const continuousDmaSeries = 'debian:7.3+noiommu-continuous-dma';

/** A hard-linked copy of the unpacked Debian source without the cache's objects: what a developer's tree looks like. */
export async function treeCopy(): Promise<string> {
  const src = join(cacheDir(), 'src');
  const debian = readdirSync(src).find((d) => d.startsWith('linux-source-'))!;
  const base = join(src, debian, debian.split('_')[0]!);
  const copy = join(cacheDir(), 'e2e', 'tree-copy');
  if (!existsSync(copy)) {
    mkdirSync(join(cacheDir(), 'e2e'), { recursive: true });
    await execa('cp', ['-al', base, copy]);
    // The cache builds the Debian source in child folders of it; a developer's tree has none.
    for (const d of readdirSync(copy).filter((e) => e.startsWith('.vh-build-'))) rmSync(join(copy, d), { recursive: true });
  }
  return copy;
}

/** `vfio-handover build` arguments for the kernels an e2e file runs besides the default, which must exist first
 * (the patched ones seed from its objects, the tree is copied from its source). */
export async function otherKernels(): Promise<string[][]> {
  const upstream = existsSync(upstreamSeries) ? [['--patches', upstreamSeries], ['--kernel', continuousDmaSeries, '--series-base', upstreamSeries]] : [];
  return [['--kernel', referenceSeries], ...upstream, ['--patches', goodPatches], ['--patches', warnControl], ['--patches', noGetPaControl], ['--patches', oneHopControl], ...kernelControlPatches.map((p) => ['--patches', p]), ['--kernel', `tree:${await treeCopy()}`]];
}
