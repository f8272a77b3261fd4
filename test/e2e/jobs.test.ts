// --jobs changes how many VMs run at once, never what is reported.
import { describe, expect, it } from 'vitest';
import { run, scratch } from './cli.ts';

/** The TAP without what legitimately varies between runs: times, timings, run facts. */
function verdicts(tap: string): string {
  return tap
    .split('\n')
    .filter((l) => !/^\s*# (timing|info) /.test(l))
    .map((l) => l.replace(/ # time=\d+ms$/, ''))
    .join('\n');
}

describe('--jobs', () => {
  it('reports the same verdicts in the same order with one VM at a time as with two', async () => {
    const cases = ['only-vfio', 'boot', 'luo-dma-buffer'];
    const one = await run(['run', ...cases, '--tap', '--jobs', '1', '--results', scratch()]);
    const two = await run(['run', ...cases, '--tap', '--jobs', '2', '--results', scratch()]);
    expect(one.exitCode, String(one.stderr)).toBe(0);
    expect(two.exitCode, String(two.stderr)).toBe(0);
    expect(verdicts(String(two.stdout))).toBe(verdicts(String(one.stdout)));
    expect(String(one.stdout)).toMatch(/^ok 1 - only-vfio # SKIP[^]*^ok 2 - boot[^]*^ok 3 - luo-dma-buffer/m);
  }, 300_000);
});
