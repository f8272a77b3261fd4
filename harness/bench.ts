// The benchmark: the handover case and a bare boot of the same kernel, interleaved in one run,
// reported as medians and as ratios to the bare boot (these machines are shared and noisy).

export interface Sample {
  kind: 'bare' | 'handover';
  timings: Record<string, number>;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface BenchSummary {
  rounds: number;
  bare: Record<string, number>;
  handover: Record<string, number>;
  ratio: number;
  /** Suite wall times (ms), serial and with --jobs 2, when measured. */
  suite?: { serialMs: number; jobs2Ms: number; ratio: number };
  build?: { coldSeconds?: number; warmMs: number; series?: { seconds?: number; seeded?: boolean } };
  /** dma-across-kexec once: the longest the device went without completing I/O across the kexec, and the next kernel's boot. */
  deviceGap?: { gapMs?: number; bootMs?: number; why?: string };
}

/** Medians of every timing each kind reported in all its rounds. */
export function summarize(samples: Sample[]): Omit<BenchSummary, 'suite' | 'build'> {
  const med = (kind: Sample['kind']) => {
    const mine = samples.filter((s) => s.kind === kind);
    const keys = [...new Set(mine.flatMap((s) => Object.keys(s.timings)))].filter((k) => mine.every((s) => k in s.timings));
    return Object.fromEntries(keys.map((k) => [k, median(mine.map((s) => s.timings[k]!))]));
  };
  const bare = med('bare');
  const handover = med('handover');
  return { rounds: samples.filter((s) => s.kind === 'bare').length, bare, handover, ratio: (handover.wall_ms ?? NaN) / (bare.wall_ms ?? NaN) };
}

export function benchTable(b: BenchSummary): string[] {
  const bareWall = b.bare.wall_ms ?? NaN;
  const rows: string[] = [`median of ${b.rounds} interleaved rounds; ratios against the bare boot's wall time (${bareWall} ms)`];
  const row = (name: string, ms: number | undefined) =>
    ms === undefined ? undefined : `${name.padEnd(34)} ${String(Math.round(ms)).padStart(7)} ms  ${(ms / bareWall).toFixed(2).padStart(6)}x`;
  for (const [k, v] of Object.entries(b.bare)) rows.push(row(`bare ${k}`, v)!);
  for (const [k, v] of Object.entries(b.handover)) rows.push(row(`handover ${k}`, v)!);
  rows.push(`ratio handover/bare: ${b.ratio.toFixed(2)}`);
  if (b.suite) rows.push(`suite serial ${b.suite.serialMs} ms, --jobs 2 ${b.suite.jobs2Ms} ms: ratio jobs2/serial: ${b.suite.ratio.toFixed(2)}`);
  const g = b.deviceGap;
  if (g?.gapMs !== undefined && g.bootMs) rows.push(`device gap across the kexec ${g.gapMs} ms, stage-2 boot to /init ${g.bootMs} ms: ratio gap/boot: ${(g.gapMs / g.bootMs).toFixed(2)}`);
  else if (g) rows.push(`device gap across the kexec: not measured (${g.why ?? 'no device completion after the kexec'})`);
  if (b.build) rows.push(`kernel build: cold ${b.build.coldSeconds ?? '?'} s (recorded when built), warm ${b.build.warmMs} ms`);
  const s = b.build?.series;
  if (s) rows.push(`reference series build: ${s.seconds ?? '?'} s ${s.seeded ? 'on the default build\'s objects' : 'from scratch'} (recorded when built)`);
  return rows;
}
