// The console holds every byte the guest printed, even while the harness is starved: QEMU writes it into a file,
// never into a pipe the harness must drain. (Issue 11's flake: node's stdio pipe is a socketpair, QEMU writes the
// console a byte at a time, so a reader stalled for some milliseconds fills it, and the guest's console driver
// gives up on bytes: a console with letters missing, a match on it failing under load.)
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { run, scratch } from './cli.ts';

/** The QEMU process whose command line names this results folder, if it runs yet. */
function qemuIn(dir: string): number | undefined {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('qemu-system') && cmd.includes(dir)) return Number(pid);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

describe('the console under a starved harness', () => {
  it('loses no byte while the harness is stopped for 4 s as the guest boots', async () => {
    const dir = scratch();
    const child = run(['run', 'boot', '--results', dir]);
    const until = Date.now() + 120_000;
    while (!qemuIn(dir) && Date.now() < until) await sleep(20);
    expect(qemuIn(dir), 'QEMU started').toBeDefined();
    process.kill(child.pid!, 'SIGSTOP');
    await sleep(4000);
    process.kill(child.pid!, 'SIGCONT');
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const log = readFileSync(join(dir, readlinkSync(join(dir, 'latest')), 'boot.console.log'), 'utf8');
    // The kernel prints its command line twice within milliseconds: a dropped byte makes them differ.
    expect(/^Kernel command line: (.*)$/m.exec(log)?.[1]).toBe(/^Command line: (.*)$/m.exec(log)?.[1]);
    expect(log).toMatch(/^Run \/init as init process$/m);
    expect(log).toMatch(/^reboot: Power down$/m);
  }, 180_000);
});
