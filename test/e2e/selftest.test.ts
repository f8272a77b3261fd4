// Every guard, shown failing in real QEMU: a control that stops being caught fails the suite.
import { describe, expect, it } from 'vitest';
import { controls } from '../../harness/selftest.ts';
import { run, scratch, topLevel } from './cli.ts';

describe('vfio-handover selftest', () => {
  it('catches every cheating driver, naming the guard that caught it', async () => {
    const r = await run(['selftest', '--tap', '--results', scratch()]);
    const tap = String(r.stdout);
    expect(r.exitCode, `${tap}\n${r.stderr}`).toBe(0);
    const points = topLevel(tap);
    expect(points.map((p) => [p.name.split(':')[0], p.ok])).toEqual(controls.map((c) => [c.cheat, true]));
    expect(tap).toMatch(/verdict: "caught by .*: open watch refused \/proc x1 \(first \/proc\/self\/pagemap\)"/);
    expect(tap).toMatch(/verdict: "caught by seccomp: seccomp refused mlock x1"/);
    expect(tap).toMatch(/verdict: "caught by seccomp: seccomp refused mprotect x1"/);
    expect(tap).toMatch(/verdict: "caught by the byte-for-byte DMA check: page 0 /);
    expect(tap).toMatch(/verdict: "caught by the only-VFIO driver check: bound to virtio-pci"/);
    // 7.3 cannot preserve the device, so the interrupt control has nothing to prove here: it says why.
    expect(points.find((p) => p.name.startsWith('irq-on'))?.skip).toBe('vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT');
  }, 300_000);
});
