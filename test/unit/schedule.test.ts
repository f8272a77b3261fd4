import { describe, expect, it } from 'vitest';
import { allCases, pickCases } from '../../cases/index.ts';
import { caseCost, inOrderPool, shard } from '../../harness/schedule.ts';
import { median, summarize } from '../../harness/bench.ts';
import { UsageError } from '../../harness/errors.ts';

describe('shard', () => {
  it('splits the suite into disjoint shards that cover it', () => {
    const names = allCases.map((c) => c.name);
    const parts = [1, 2, 3].map((i) => shard(names, `${i}/3`));
    expect(parts.flat().sort()).toEqual([...names].sort());
    expect(new Set(parts.flat()).size).toBe(names.length);
  });

  it('for every N from 1 to two past the suite, the N shards of the default suite are the suite: each case once, in suite order', () => {
    // The suite a run without case names takes (run.ts: shard(pickCases(positionals), --shard)).
    const suite = pickCases([]).map((c) => c.name);
    expect(suite).toEqual(allCases.map((c) => c.name));
    for (let n = 1; n <= suite.length + 2; n++) {
      const parts = Array.from({ length: n }, (_, k) => shard(suite, `${k + 1}/${n}`));
      const ran = parts.flat();
      expect(ran.length, `N=${n}`).toBe(suite.length);
      expect(new Set(ran).size, `N=${n}: a case ran twice`).toBe(suite.length);
      expect([...ran].sort(), `N=${n}`).toEqual([...suite].sort());
      // Each shard keeps the suite's order, and shard sizes differ by at most one.
      for (const p of parts) expect(p, `N=${n}`).toEqual(suite.filter((c) => p.includes(c)));
      const sizes = parts.map((p) => p.length);
      expect(Math.max(...sizes) - Math.min(...sizes), `N=${n}`).toBeLessThanOrEqual(1);
    }
  });

  it('without --shard the run takes the whole suite', () => {
    expect(shard(allCases)).toEqual(allCases);
  });

  it('refuses malformed specs and shards outside 1..N with a UsageError (exit 2)', () => {
    for (const spec of ['0/3', '4/3', 'x', '', '1/0', '0/0', '-1/3', '1.5/3', '1/3/5', '1 /3', '/3', '1/']) {
      expect(() => shard([1, 2, 3], spec), `'${spec}'`).toThrow(UsageError);
    }
  });

  it('refuses a shard outside 1..N', () => {
    expect(() => shard([1], '0/2')).toThrow(/--shard takes I\/N/);
    expect(() => shard([1], '3/2')).toThrow(/--shard takes I\/N/);
  });
});

describe('inOrderPool', () => {
  it('starts the costliest first but reports in input order', async () => {
    const started: number[] = [];
    const reported: number[] = [];
    const delays = [30, 5, 60, 1];
    await inOrderPool(
      delays,
      2,
      async (d, i) => {
        started.push(i);
        await new Promise((r) => setTimeout(r, d));
        return i;
      },
      (r) => reported.push(r),
      (d) => d,
    );
    expect(started.slice(0, 2)).toEqual([2, 0]);
    expect(reported).toEqual([0, 1, 2, 3]);
  });

  it('ranks the four-stage kexec chain as the costliest case', () => {
    const top = [...allCases].sort((a, b) => caseCost(b) - caseCost(a))[0];
    expect(top?.name).toBe('kexec-chain');
  });
});

describe('bench summary', () => {
  it('takes medians per timing and the handover/bare ratio of wall times', () => {
    const s = summarize([
      { kind: 'bare', timings: { wall_ms: 1000 } },
      { kind: 'handover', timings: { wall_ms: 2600, kexec1_ms: 900 } },
      { kind: 'bare', timings: { wall_ms: 1200 } },
      { kind: 'handover', timings: { wall_ms: 3000, kexec1_ms: 1000 } },
      { kind: 'bare', timings: { wall_ms: 900 } },
      { kind: 'handover', timings: { wall_ms: 2700, kexec1_ms: 950 } },
    ]);
    expect(s.bare.wall_ms).toBe(1000);
    expect(s.handover).toEqual({ wall_ms: 2700, kexec1_ms: 950 });
    expect(s.ratio).toBeCloseTo(2.7);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
