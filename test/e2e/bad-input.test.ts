// Unusable input: one clear line on stderr, exit 2, no stack trace, nothing left running.
import { describe, expect, it } from 'vitest';
import { run, scratch } from './cli.ts';

function expectOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n').filter((l) => !l.startsWith('vfio-handover: installing'));
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/^\s+at /m);
}

describe('bad input', () => {
  it('an unknown case', async () => {
    const r = await run(['run', 'no-such-case', '--results', scratch()]);
    expect(r.exitCode).toBe(2);
    expectOneLine(String(r.stderr), /^vfio-handover: unknown case 'no-such-case': known cases are boot, noiommu-dma, luo-dma-buffer/);
  });

  it('a kernel image that does not exist', async () => {
    const r = await run(['run', '--kernel', 'image:/nonexistent/bzImage', '--results', scratch()]);
    expect(r.exitCode).toBe(2);
    expectOneLine(String(r.stderr), /^vfio-handover: kernel image not found: \/nonexistent\/bzImage$/);
  });

  it('a kernel spec nobody knows', async () => {
    const r = await run(['run', '--kernel', 'ubuntu:99', '--results', scratch()]);
    expect(r.exitCode).toBe(2);
    expectOneLine(String(r.stderr), /^vfio-handover: unknown kernel spec 'ubuntu:99'/);
  });

  it('no QEMU', async () => {
    const r = await run(['run', '--results', scratch()], { env: { VFIO_HANDOVER_QEMU: '/nonexistent/qemu-system-x86_64' } });
    expect(r.exitCode).toBe(2);
    expectOneLine(String(r.stderr), /^vfio-handover: QEMU not found: \/nonexistent\/qemu-system-x86_64/);
  });

  it('an unknown option', async () => {
    const r = await run(['run', '--frobnicate']);
    expect(r.exitCode).toBe(2);
    expectOneLine(String(r.stderr), /^vfio-handover: Unknown option '--frobnicate'/);
  });
});
