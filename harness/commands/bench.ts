// vfio-handover bench (npm run bench): measured, never asserted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allCases, pickCases } from '../../cases/index.ts';
import { ExitCode, InfraError, UsageError } from '../errors.ts';
import { defaultKernelSpec, parseKernelSpec, resolveKernel } from '../kernel/spec.ts';
import { runCase } from '../run-case.ts';
import { caseCost, inOrderPool } from '../schedule.ts';
import { benchTable, summarize, type BenchSummary, type Sample } from '../bench.ts';
import { note, endStatus } from '../progress.ts';
import { caseContext, openSession, type SessionRequest } from '../session.ts';
import { Reporter } from '../reporter.ts';
import { defineCommand, kernelOptions, sessionRequestOf, vmOptions } from './options.ts';
import { word } from '../../cases/contract.ts';

interface BenchPlan {
  rounds: number;
  skipSuite: boolean;
  append?: string;
  results?: string;
  session: SessionRequest;
}

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'the handover case against a bare boot, K interleaved rounds, and the suite serial against --jobs 2; ratios, not seconds',
  options: {
    ...kernelOptions,
    ...vmOptions,
    rounds: { type: 'string', arg: 'K', help: 'interleaved rounds of bare boot and handover (default 5)' },
    'skip-suite': { type: 'boolean', help: 'leave out the suite timings (serial against --jobs 2)' },
  },
  plan: (v): BenchPlan => ({ rounds: parseRounds(v.rounds), skipSuite: Boolean(v['skip-suite']), append: v.append, results: v.results, session: sessionRequestOf(v) }),
  run: cmdBench,
});

function parseRounds(text = '5'): number {
  const rounds = Number(text);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds takes a whole number, not '${text}'`);
  return rounds;
}

/** npm run bench: interleaved bare and handover runs, the suite serial and with --jobs 2, the build cache. */
async function cmdBench({ rounds, skipSuite, append: userAppend, results: resultsRoot, session }: BenchPlan): Promise<number> {
  const bare = pickCases(['boot'])[0]!;
  const handover = pickCases(['luo-dma-buffer'])[0]!;
  const s = await openSession(session);
  const { results } = new Reporter(s, { results: resultsRoot, tap: false }, [bare.name, handover.name]);
  const ctx = (i: number, n: number, append?: string) => caseContext(s, results.dir, i, n, append);
  // One DMA page per stage, as the hand-made baseline did one transfer: the figure is the harness's cost, not edu's.
  const append = [userAppend, word('pages', 1)].filter(Boolean).join(' ');
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
    await inOrderPool(allCases, jobs, (c, i) => runCase(c, ctx(i, allCases.length, userAppend)), () => endStatus(), caseCost);
    return Date.now() - t0;
  };
  // The live part of a live update: how long the device went without completing I/O while the kernel was replaced.
  const inFlight = await runCase(pickCases(['dma-across-kexec'])[0]!, ctx(0, 1, userAppend));
  endStatus();
  const deviceGap = inFlight.status === 'pass'
    ? { gapMs: inFlight.timings.device_gap1_ms, bootMs: inFlight.timings.stage2_boot_to_init_ms }
    : { why: `dma-across-kexec ${inFlight.status}: ${inFlight.reason ?? ''}` };
  const suite = skipSuite ? undefined : { serialMs: await suiteWall(1), jobs2Ms: await suiteWall(2) };
  const t0 = Date.now();
  const kernel = await resolveKernel(session.kernel);
  const warmMs = Date.now() - t0;
  // The reference series is built on the default build's objects: its own cold time is the shared build's cost.
  const series = await resolveKernel(parseKernelSpec(`${defaultKernelSpec}+noiommu-handover`));
  const summary: BenchSummary = {
    ...summarize(samples),
    ...(suite ? { suite: { ...suite, ratio: suite.jobs2Ms / suite.serialMs } } : {}),
    build: { coldSeconds: kernel.seconds, warmMs, series: { seconds: series.seconds, seeded: series.seeded } },
    deviceGap,
  };
  writeFileSync(join(results.dir, 'bench.json'), `${JSON.stringify({ summary, samples }, null, 2)}\n`);
  process.stdout.write(`${benchTable(summary).join('\n')}\n`);
  return ExitCode.ok;
}
