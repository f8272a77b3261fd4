import { describe, expect, it } from 'vitest';
import { allCases } from '../../cases/index.ts';
import { caseCost, inOrderPool, shard } from '../../harness/schedule.ts';
import { median, summarize } from '../../harness/bench.ts';

describe('shard', () => {
  it('splits the suite into disjoint shards that cover it', () => {
    const names = allCases.map((c) => c.name);
    const parts = [1, 2, 3].map((i) => shard(names, `${i}/3`));
    expect(parts.flat().sort()).toEqual([...names].sort());
    expect(new Set(parts.flat()).size).toBe(names.length);
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
