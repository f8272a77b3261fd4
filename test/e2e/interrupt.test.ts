// Ctrl-C while a guest runs: the harness exits 130 and no QEMU process outlives it.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { run, scratch } from './cli.ts';

function qemuPidsMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'))?.[1];
      if (cmd.includes('qemu-system') && cmd.includes(text) && state !== 'Z') pids.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

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
