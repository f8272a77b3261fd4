// Ctrl-C while a guest runs: the harness exits 130 and no QEMU process outlives it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { qemuPidsMentioning, run, scratch } from './cli.ts';

describe('interrupt', () => {
  it('SIGINT mid-case stops QEMU and exits 130', async () => {
    const dir = scratch();
    const child = run(['run', 'noiommu-dma', '--tap', '--results', dir]);
    let pids: number[] = [];
    for (let i = 0; i < 600 && pids.length === 0; i++) {
      await sleep(100);
      const latest = join(dir, 'latest', 'noiommu-dma.result.log');
      if (existsSync(latest) && readFileSync(latest, 'utf8').includes('agent=start')) pids = qemuPidsMentioning(dir);
    }
    expect(pids.length, 'QEMU never came up').toBeGreaterThan(0);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    for (let i = 0; i < 20 && qemuPidsMentioning(dir).length > 0; i++) await sleep(100);
    expect(qemuPidsMentioning(dir)).toEqual([]);
  });
});
