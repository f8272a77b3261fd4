// A kernel without the capability makes the case SKIP, naming what is missing.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { run, scratch, topLevel } from './cli.ts';
import { noGetPaControl } from './kernels.ts';

describe('capability skips', () => {
  it('a kernel without GET_PA makes noiommu-dma a SKIP naming ENOTTY, not ok on the assertions before it', async () => {
    const r = await run(['run', 'noiommu-dma', '--tap', '--results', scratch(), '--patches', noGetPaControl]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [c] = topLevel(String(r.stdout));
    expect(c).toMatchObject({ ok: true, skip: 'kernel lacks IOMMU_IOAS_NOIOMMU_GET_PA: ioctl returned ENOTTY' });
    expect(String(r.stdout)).toMatch(/^ {4}ok 9 - vmpin_grows_by_mapped_size/m);
  }, 300_000);

  it('skips with the guest kernel\'s own reason when no-IOMMU mode is off in the booted kernel', async () => {
    const r = await run(['run', 'noiommu-dma', '--tap', '--results', scratch(), '--append', 'vfio.enable_unsafe_noiommu_mode=0']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [c] = topLevel(String(r.stdout));
    expect(c?.skip).toBe('vfio.enable_unsafe_noiommu_mode is off in this boot');
  });

  it('skips before booting when the kernel config lacks CONFIG_VFIO_NOIOMMU', async () => {
    const dir = scratch();
    const config = join(dir, 'config-no-noiommu');
    writeFileSync(config, readFileSync(inject('kernelConfig'), 'utf8').replace('CONFIG_VFIO_NOIOMMU=y', '# CONFIG_VFIO_NOIOMMU is not set'));
    const r = await run(['run', 'noiommu-dma', '--tap', '--results', dir, '--kernel', `image:${inject('kernelImage')},config=${config}`]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [c] = topLevel(String(r.stdout));
    expect(c?.ok).toBe(true);
    expect(String(c?.skip)).toMatch(/CONFIG_VFIO_NOIOMMU=y .*noiommu-iommufd\.config/);
  });

  it('skips a kexec case before booting when the next kernel\'s config lacks LUO, naming the next kernel', async () => {
    const dir = scratch();
    const config = join(dir, 'config-no-liveupdate');
    writeFileSync(config, readFileSync(inject('kernelConfig'), 'utf8').replace('CONFIG_LIVEUPDATE=y', '# CONFIG_LIVEUPDATE is not set'));
    const first = `image:${inject('kernelImage')},config=${inject('kernelConfig')}`;
    const r = await run(['run', 'luo-dma-buffer', '--tap', '--results', dir, '--kernel', first, '--next-kernel', `image:${inject('kernelImage')},config=${config}`]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const [c] = topLevel(String(r.stdout));
    expect(c?.ok).toBe(true);
    expect(String(c?.skip)).toMatch(/^next kernel \(image:.*\) config lacks capability: CONFIG_LIVEUPDATE=y .*liveupdate\.config/);
  });
});
