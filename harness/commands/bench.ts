// vfio-handover bench (npm run bench): measured, never asserted.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { allCases, pickCases } from '../../cases/index.ts';
import { ExitCode, InfraError, UsageError } from '../errors.ts';
import { defaultKernelSpec, parseKernelSpec, resolveKernel } from '../kernel/spec.ts';
import { runCase } from '../run-case.ts';
import { caseCost, inOrderPool } from '../schedule.ts';
import { benchTable, summarize, type BenchSummary, type Sample } from '../bench.ts';
import { note, endStatus } from '../progress.ts';
import { prepare, type RunValues } from '../session.ts';

/** npm run bench: interleaved bare and handover runs, the suite serial and with --jobs 2, the build cache. */
export async function cmdBench(values: RunValues & { rounds?: string; 'skip-suite'?: boolean }): Promise<number> {
  const rounds = Number(values.rounds ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds takes a whole number, not '${values.rounds}'`);
  const bare = pickCases(['boot'])[0]!;
  const handover = pickCases(['luo-dma-buffer'])[0]!;
  const { results, ctx } = await prepare({ ...values, tap: false }, [bare.name, handover.name]);
  // One DMA page per stage, as the hand-made baseline did one transfer: the figure is the harness's cost, not edu's.
  const append = [values.append, 'vh.pages=1'].filter(Boolean).join(' ');
  const samples: Sample[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const [kind, c] of [['bare', bare], ['handover', handover]] as const) {
      const r = await runCase(c, ctx(i, rounds, append));
      endStatus();
      if (r.status !== 'pass') throw new InfraError(`bench: ${c.name} did not pass (${r.status}: ${r.reason})`);
      samples.push({ kind, timings: r.timings });
      note(`round ${i + 1}/${rounds}: ${kind} ${r.timings.wall_ms} ms`);
    }
  }
  const suiteWall = async (jobs: number) => {
    const t0 = Date.now();
    await inOrderPool(allCases, jobs, (c, i) => runCase(c, ctx(i, allCases.length, values.append)), () => endStatus(), caseCost);
    return Date.now() - t0;
  };
  const suite = values['skip-suite'] ? undefined : { serialMs: await suiteWall(1), jobs2Ms: await suiteWall(2) };
  const t0 = Date.now();
  const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec));
  const warmMs = Date.now() - t0;
  // The reference series is built on the default build's objects: its own cold time is the shared build's cost.
  const series = await resolveKernel(parseKernelSpec(`${defaultKernelSpec}+noiommu-handover`));
  const summary: BenchSummary = {
    ...summarize(samples),
    ...(suite ? { suite: { ...suite, ratio: suite.jobs2Ms / suite.serialMs } } : {}),
    build: { coldSeconds: builtIn(kernel.bzImage).seconds, warmMs, series: builtIn(series.bzImage) },
  };
  writeFileSync(join(results.dir, 'bench.json'), `${JSON.stringify({ summary, samples }, null, 2)}\n`);
  process.stdout.write(`${benchTable(summary).join('\n')}\n`);
  return ExitCode.ok;
}

/** What a build recorded when it ran (meta.json beside its image). */
function builtIn(bzImage: string): { seconds?: number; seeded?: boolean } {
  const meta = join(dirname(bzImage), 'meta.json');
  return existsSync(meta) ? (JSON.parse(readFileSync(meta, 'utf8')) as { seconds?: number; seeded?: boolean }) : {};
}
