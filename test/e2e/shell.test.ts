// vfio-handover shell, driven as a person would: wait for the prompt, type, read the answer.
import { describe, expect, it } from 'vitest';
import { run } from './cli.ts';

describe('shell', () => {
  it('boots the case VM with its device in vfio-pci and a shell on the console', async () => {
    const child = run(['shell', 'noiommu-dma'], { stdin: 'pipe', timeout: 120_000 });
    let out = '';
    let typed = false;
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (!typed && out.includes('built-in shell')) {
        typed = true;
        child.stdin!.write('readlink /sys/bus/pci/devices/0000:00:04.0/driver\necho MARK-$((6*7))\nexit\n');
      }
    });
    const r = await child;
    expect(r.exitCode, out).toBe(0);
    expect(out).toMatch(/\.\.\/bus\/pci\/drivers\/vfio-pci/);
    expect(out).toContain('MARK-42');
    expect(out).toContain('reboot: Power down');
  }, 180_000);
});
