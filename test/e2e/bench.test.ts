// npm run bench's own output, on the real kernel: the ratio line CI dashboards read.
import { describe, expect, it } from 'vitest';
import { run, scratch } from './cli.ts';

describe('bench', () => {
  it('prints medians against a bare boot and the ratio line', async () => {
    const r = await run(['bench', '--rounds', '1', '--skip-suite', '--results', scratch()]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(/^ratio handover\/bare: \d+\.\d\d$/m);
    expect(String(r.stdout)).toMatch(/^handover blackout1_ms +\d+ ms/m);
    // 7.3 cannot hand the device over: the device gap is not measured, and the line says why.
    expect(String(r.stdout)).toMatch(/^device gap across the kexec: not measured \(dma-across-kexec skip: vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT\)$/m);
  }, 300_000);
});
