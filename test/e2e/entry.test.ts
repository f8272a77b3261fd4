// The entry points as a user calls them: by path, from any folder.
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli } from './cli.ts';

describe('entry points', () => {
  it('./vfio-handover works when called from another folder', async () => {
    const r = await execa(cli, ['list'], { cwd: tmpdir(), reject: false });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^boot +/m);
  });

  it('check-series works when called from another folder', async () => {
    const checkSeries = resolve(import.meta.dirname, '..', '..', 'kernels', 'patches', 'check-series');
    const r = await execa(checkSeries, [], { cwd: tmpdir(), reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe('check-series: usage: check-series DIR [CASE...] [--series-base PATH]');
  });
});
