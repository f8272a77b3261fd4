// vfio-handover shell, driven as a person would: wait for the prompt, type one command, read the answer.
import { describe, expect, it } from 'vitest';
import { run } from './cli.ts';

describe('shell', () => {
  it('boots the case VM with its device in vfio-pci and a shell on the console', async () => {
    const child = run(['shell', 'noiommu-dma'], { stdin: 'pipe', timeout: 120_000 });
    // Each command is typed once the previous answer (or the banner) has appeared.
    const script: [RegExp, string][] = [
      [/built-in shell/, 'readlink /sys/bus/pci/devices/0000:01:00.0/driver\n'],
      [/drivers\/vfio-pci/, 'echo MARK-$((6*7))\n'],
      [/MARK-42/, 'exit\n'],
    ];
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const next = script[0];
      if (next && next[0].test(out)) {
        script.shift();
        child.stdin!.write(next[1]);
      }
    });
    const r = await child;
    expect(r.exitCode, out).toBe(0);
    expect(script, out).toEqual([]);
    expect(out).toMatch(/\.\.\/bus\/pci\/drivers\/vfio-pci/);
    expect(out).toContain('MARK-42');
    expect(out).toContain('reboot: Power down');
  }, 180_000);
});
