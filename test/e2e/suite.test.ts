// The default suite on the default kernel, in real QEMU: the README's main command.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import noiommuDma from '../../cases/noiommu-dma.ts';
import { allAssertions } from '../../cases/case.ts';
import { run, scratch, topLevel } from './cli.ts';

describe('vfio-handover run (default suite, default kernel)', () => {
  it('passes noiommu-dma with every assertion its own ok test point', async () => {
    const dir = scratch();
    const r = await run(['run', '--tap', '--results', dir]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const tap = String(r.stdout);
    expect(tap.startsWith('TAP version 14\n')).toBe(true);
    const cases = topLevel(tap);
    expect(cases.map((c) => [c.name, c.ok, c.skip])).toEqual([
      ['boot', true, false],
      ['noiommu-dma', true, false],
    ]);
    const sub = tap.slice(tap.indexOf('# Subtest: noiommu-dma'));
    allAssertions(noiommuDma).forEach((name, i) => expect(sub).toMatch(new RegExp(`^ {4}ok ${i + 1} - ${name}$`, 'm')));

    const runDir = join(dir, readlinkSync(join(dir, 'latest')));
    expect(readFileSync(join(runDir, 'report.tap'), 'utf8').trimEnd()).toBe(tap.trimEnd());
    expect(readFileSync(join(runDir, 'noiommu-dma.console.log'), 'utf8')).toMatch(/Adding kernel taint for vfio-noiommu cdev/);
    expect(readFileSync(join(runDir, 'noiommu-dma.result.log'), 'utf8')).toMatch(/^# vh agent=done stage=1 exit=0/m);
    const meta = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(['kvm', 'tcg']).toContain(meta.accel.name);
    expect(existsSync(join(runDir, 'cases.jsonl'))).toBe(true);
  });
});
