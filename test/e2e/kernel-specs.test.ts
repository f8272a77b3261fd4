// Each kernel spec kind, built and booted for real: a user's patch series, a tree, a prebuilt
// image with and without its config, and a kexec into a different build.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { run, scratch, topLevel } from './cli.ts';
import { fixtures, goodPatches, treeCopy } from './kernels.ts';

const marker = 'vfio-handover test patch: this kernel was patched';
const consoleOf = (dir: string, c: string) => readFileSync(join(dir, readlinkSync(join(dir, 'latest')), `${c}.console.log`), 'utf8');

async function patchedImage(): Promise<string> {
  const b = await run(['build', '--patches', goodPatches]);
  expect(b.exitCode, String(b.stderr)).toBe(0);
  return /^kernel (.+)$/m.exec(String(b.stdout))![1]!;
}

describe('kernel specs', () => {
  it('--patches: a real patch is applied with git am and its pr_info is on the console', async () => {
    const dir = scratch();
    const r = await run(['run', 'boot', '--tap', '--results', dir, '--patches', goodPatches]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(consoleOf(dir, 'boot')).toContain(marker);
  }, 900_000);

  it('check-series: a line per patch with checkpatch, build and verdicts; a patch that does not apply fails it', async () => {
    const checkSeries = resolve(import.meta.dirname, '..', '..', 'kernels', 'patches', 'check-series');
    const good = await execa(checkSeries, [goodPatches, 'boot'], { reject: false });
    expect(good.exitCode, `${good.stdout}\n${good.stderr}`).toBe(0);
    expect(good.stdout).toMatch(/^1 +0001-vfio-say-patched\.patch +clean +ok +exit=0 boot:ok$/m);
    const bad = await execa(checkSeries, [join(fixtures, 'patches-bad'), 'boot'], { reject: false });
    expect(bad.exitCode, bad.stdout).toBe(1);
    expect(bad.stdout).toMatch(/^1 +0002-does-not-apply\.patch +\S+ +FAILED +exit=2 .*does not apply/m);
  }, 900_000);

  it('--patches: a patch that does not apply is one clear line and exit 2', async () => {
    const r = await run(['run', 'boot', '--results', scratch(), '--patches', join(fixtures, 'patches-bad')]);
    expect(r.exitCode).toBe(2);
    const lines = String(r.stderr).trim().split('\n').filter((l) => l.startsWith('vfio-handover:'));
    expect(lines.at(-1)).toMatch(/does not apply to .*: 0001 vfio: a patch against code that is not there: patch failed: drivers\/vfio\/vfio_main.c:10$/);
  }, 300_000);

  it('--next-kernel: stage 1 kexecs into a different build, which boots stage 2', async () => {
    const next = await patchedImage();
    const dir = scratch();
    const r = await run(['run', 'luo-dma-buffer', '--tap', '--results', dir, '--next-kernel', `image:${next}`]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(topLevel(String(r.stdout))[0]).toMatchObject({ ok: true, skip: false });
    const log = consoleOf(dir, 'luo-dma-buffer');
    const kexecAt = log.indexOf('KHO: exec from');
    expect(kexecAt).toBeGreaterThan(0);
    expect(log.indexOf(marker)).toBeGreaterThan(kexecAt);
    expect(log.slice(0, kexecAt)).not.toContain(marker);
  }, 900_000);

  it('image: without its config, capabilities are probed at run time and the case runs', async () => {
    const r = await run(['run', 'noiommu-dma', '--tap', '--results', scratch(), '--kernel', `image:${inject('kernelImage')}`]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(topLevel(String(r.stdout))[0]).toMatchObject({ ok: true, skip: false });
  });

  it('tree: a scratch copy of the Debian source builds out of tree, leaving the copy untouched', async () => {
    const copy = await treeCopy();
    const before = (await execa('find', [copy, '-newer', join(copy, 'Makefile'), '-print', '-quit'])).stdout;
    const r = await run(['run', 'boot', '--tap', '--results', scratch(), '--kernel', `tree:${copy}`]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(topLevel(String(r.stdout))[0]).toMatchObject({ ok: true, name: 'boot' });
    expect(existsSync(join(copy, '.config'))).toBe(false);
    expect((await execa('find', [copy, '-newer', join(copy, 'Makefile'), '-print', '-quit'])).stdout).toBe(before);
  }, 900_000);
});
