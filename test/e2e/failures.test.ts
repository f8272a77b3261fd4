// Induced failures, for real: each gets its class and exit code within its phase timeout,
// and leaves no QEMU process behind.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qemuPidsMentioning, run, scratch, topLevel } from './cli.ts';
import { warnControl } from './kernels.ts';

async function induce(args: string[], env: Record<string, string> = {}) {
  const dir = scratch();
  const r = await run(['run', 'noiommu-dma', '--tap', '--results', dir, ...args], { env });
  const tap = String(r.stdout);
  return { r, tap, dir, top: topLevel(tap)[0], left: qemuPidsMentioning(dir) };
}

describe('induced failures', () => {
  it('a guest panic mid-stage is an ERROR with the console excerpt from the panic line', async () => {
    const { r, tap, top, left } = await induce(['--append', 'vh.induce=panic']);
    expect(r.exitCode).toBe(3);
    expect(top?.ok).toBe(false);
    expect(tap).toMatch(/severity: "error"/);
    expect(tap).toMatch(/reason: "guest crashed: Kernel panic - not syncing: sysrq triggered crash"/);
    expect(tap).toMatch(/excerpt: \|-\n {4}Kernel panic - not syncing: sysrq triggered crash/);
    expect(tap).toMatch(/^ {4}ok 3 - taint_user_set( # time=\d+ms)?$/m);
    expect(left).toEqual([]);
  });

  it('silence past the phase timeout is an ERROR naming the phase and where each vCPU was', async () => {
    const t0 = Date.now();
    const { r, tap, left } = await induce(['--append', 'vh.induce=hang', '--timeout', 'case=4']);
    expect(r.exitCode).toBe(3);
    expect(tap).toMatch(/reason: "no progress for 4 s in phase case \(vCPU0 (halted|running) at \w+\+0x[0-9a-f]+\)"/);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(left).toEqual([]);
  });

  it('malformed KTAP from the agent is an ERROR quoting the line', async () => {
    const { r, tap, left } = await induce(['--append', 'vh.induce=garbage']);
    expect(r.exitCode).toBe(3);
    expect(tap).toMatch(/reason: "malformed KTAP from the agent in stage 1: \\"ok ok 4 bind_iommufd\\""/);
    expect(left).toEqual([]);
  });

  it('a results folder deeper than a unix socket path can hold (107 bytes) still runs: the sockets live in a short folder of their own', async () => {
    const dir = join(scratch(), 'a-results-folder-as-deep-as-a-matrix-run-makes-it'.repeat(3));
    const r = await run(['run', 'boot', '--tap', '--results', dir]);
    expect(r.exitCode, String(r.stdout)).toBe(0);
    expect(topLevel(String(r.stdout))[0]).toMatchObject({ name: 'boot', ok: true });
    expect(qemuPidsMentioning(dir)).toEqual([]);
  });

  it('a QEMU that cannot start (a device it does not have) is a MISS; --bisect makes it 125', async () => {
    const dir = scratch();
    const wrapper = join(dir, 'qemu-without-device');
    writeFileSync(wrapper, '#!/bin/sh\nexec qemu-system-x86_64 "$@" -device no-such-device\n');
    chmodSync(wrapper, 0o755);
    const env = { VFIO_HANDOVER_QEMU: wrapper };
    const { r, tap, left } = await induce([], env);
    expect(r.exitCode).toBe(3);
    expect(tap).toMatch(/severity: "miss"/);
    expect(tap).toMatch(/reason: "QEMU failed to start: .*'no-such-device' is not a valid device model name"/);
    expect(left).toEqual([]);
    const b = await induce(['--bisect'], env);
    expect(b.r.exitCode).toBe(125);
  });

  it('a kernel WARNING during a case fails it, with the splat, although every assertion held', async () => {
    const r = await run(['run', 'boot', '--tap', '--results', scratch(), '--patches', warnControl]);
    const tap = String(r.stdout);
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(topLevel(tap)[0]).toMatchObject({ ok: false, name: 'boot' });
    expect(tap).toMatch(/^ {4}ok 1 - agent_runs_as_init/m);
    expect(tap).toMatch(/^ {4}not ok \d+ - kernel_warnings/m);
    expect(tap).toMatch(/vfio-handover control: an injected kernel warning/);
  }, 300_000);

  it('a guest with one NUMA node (numa=off) applies no pressure, so the pinned pages prove nothing: not ok', async () => {
    const { r, tap } = await induce(['--append', 'numa=off']);
    expect(r.exitCode).toBe(1);
    expect(tap).toMatch(/^ {4}not ok \d+ - pressure_moves_unpinned/m);
    expect(tap).toMatch(/^ {4}not ok \d+ - pa_stable_under_pressure/m);
    expect(tap).toMatch(/seen: "no pressure applied to 16 of 16 pages .*no other node with memory to move them to\)"/);
  });
});
