// QEMU's trace log as the judge reads it: when the device completed I/O, and the longest it went without.
import { describe, expect, it } from 'vitest';
import { longestGap, traceTimes } from '../../harness/qemu/trace.ts';
import { fx } from './fixtures.ts';

describe('device events from QEMU trace', () => {
  const text = fx('dma-across-kexec-reference', 'dma-across-kexec.trace.log');

  it('reads each completion of the filtered queue as ms since QEMU started, in order', () => {
    const first = /^\d+@(\d+\.\d+):/.exec(text)!;
    const t0 = Math.floor(Number(first[1]) * 1000) - 100;
    const all = traceTimes(text, t0);
    const io = traceTimes(text, t0, / cqid 1 /);
    expect(all.length).toBe(text.trim().split('\n').length);
    expect(io.length).toBeGreaterThan(5);
    expect(io.length).toBeLessThan(all.length);
    expect(all[0]).toBeGreaterThanOrEqual(100);
    expect(all[0]).toBeLessThan(101);
    expect([...io].sort((a, b) => a - b)).toEqual(io);
  });

  it('measures the longest stretch without a completion from before the kexec to after the next start', () => {
    const events = [100, 600, 1100, 1600, 3900, 4400];
    expect(longestGap(events, 1000, 3000)).toBe(2300); // the kexec stopped the device from 1600 to 3900
    expect(longestGap([100, 600, 1100, 1600, 2100, 2600, 3100], 1000, 3000)).toBe(500); // kept running
    expect(longestGap([100, 600], 1000, 3000)).toBeUndefined(); // nothing after the kexec
  });
});
