// vfio-handover run: the suite (or the named cases) in parallel VMs, one TAP stream in case order.
import { join } from 'node:path';
import type { Case } from '../../cases/case.ts';
import { pickCases } from '../../cases/index.ts';
import type { RequiredClaim } from '../../cases/claims.ts';
import { ExitCode } from '../errors.ts';
import { runCase } from '../run-case.ts';
import { caseCost, inOrderPool, parseJobs, shard } from '../schedule.ts';
import { tapCase, tapHeader } from '../report/tap.ts';
import { note, status, endStatus } from '../progress.ts';
import type { CaseResult } from '../verdict.ts';
import { caseContext, kselftestsOf, openSession, type SessionRequest } from '../session.ts';
import { Reporter, type ReporterOptions } from '../reporter.ts';
import { defineCommand, kernelOptions, parseRequire, reportOptions, sessionRequestOf, vmOptions, type OptionTable } from './options.ts';

const runOptions = {
  ...kernelOptions,
  ...vmOptions,
  ...reportOptions,
  jobs: { type: 'string', short: 'j', arg: 'N', help: 'VMs at once (default: from cores and free memory); output is the same either way' },
  shard: { type: 'string', arg: 'I/N', help: 'run every Nth case starting at the Ith (CI matrices)' },
  bisect: { type: 'boolean', help: 'for git bisect run: build failures and infrastructure errors exit 125' },
} satisfies OptionTable;

interface RunPlan {
  cases: Case[];
  require: RequiredClaim[];
  jobs: number;
  shard?: string;
  append?: string;
  bisect: boolean;
  session: SessionRequest;
  report: ReporterOptions;
}

export const runCommand = defineCommand({
  name: 'run',
  args: '[CASE...]',
  summary: 'run cases (default: the whole suite) and print TAP',
  options: runOptions,
  plan: (v, positionals): RunPlan => ({
    cases: shard(pickCases(positionals), v.shard),
    require: parseRequire(v.require),
    jobs: parseJobs(v.jobs),
    shard: v.shard,
    append: v.append,
    bisect: Boolean(v.bisect),
    session: sessionRequestOf(v),
    report: { results: v.results, tap: v.tap },
  }),
  run: cmdRun,
  bisect: (p) => p.bisect,
});

function exitCodeFor(results: CaseResult[]): number {
  if (results.some((r) => r.status === 'error' || r.status === 'miss')) return ExitCode.infra;
  if (results.some((r) => r.status === 'fail')) return ExitCode.failed;
  return ExitCode.ok;
}

function summaryTable(results: CaseResult[]): string[] {
  const rows = results.map((r) => [r.case, r.status.toUpperCase(), r.timings.wall_ms ? `${(r.timings.wall_ms / 1000).toFixed(1)} s` : '-', r.reason ?? '']);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), 4));
  return rows.map((r) => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padStart(w[2]!)}  ${r[3]}`);
}

async function cmdRun({ cases, require, jobs, shard: shardSpec, append, session, report }: RunPlan): Promise<number> {
  const s = await openSession({ ...session, kselftests: kselftestsOf(cases) });
  const rep = new Reporter(s, report, cases.map((c) => c.name));
  const { results } = rep;
  rep.emit(tapHeader(cases.length));
  const phases = new Map<string, string>();
  const showPhases = () => status([...phases].map(([k, p]) => `${k}: ${p}`).join(' | '), 0);
  // Cases run in parallel VMs; their verdicts are reported in case order, so the output is the same either way.
  const done = await inOrderPool(
    cases,
    jobs,
    async (c, i) => {
      const r = await runCase(c, {
        ...caseContext(s, results.dir, i, cases.length, append),
        require,
        onPhase: (k, p) => {
          phases.set(k.name, p);
          showPhases();
        },
      });
      phases.delete(c.name);
      results.caseResult(r, i);
      return r;
    },
    (r, i) => {
      endStatus();
      rep.emit(tapCase(r, i + 1));
      note(`[${i + 1}/${cases.length}] ${r.case}: ${r.status.toUpperCase()}${r.reason ? ` - ${r.reason}` : ''}`);
      showPhases();
    },
    caseCost,
  );
  endStatus();
  process[rep.tapOut ? 'stderr' : 'stdout'].write(`${summaryTable(done).join('\n')}\n`);
  for (const r of done.filter((x) => x.status === 'fail' || x.status === 'error' || x.status === 'miss')) {
    process.stderr.write(`\n${r.case}: ${r.status.toUpperCase()} - ${whyFirst(r)}\n`);
    process.stderr.write(`full console: ${join(results.dir, `${r.case}.console.log`)}\n`);
  }
  const code = exitCodeFor(done);
  results.meta({ finished: new Date().toISOString(), exitCode: code, jobs, shard: shardSpec });
  return code;
}

/** For a person: the first failing assertion's own words, or the console lines that explain an error. */
function whyFirst(r: CaseResult): string {
  if (r.status !== 'fail') return `${r.reason}\n${(r.excerpt ?? '').split('\n').slice(0, 15).join('\n')}`;
  const a = r.assertions.find((x) => !x.ok);
  return `${a?.name}: expected ${String(a?.diag?.expected)}, saw ${String(a?.diag?.seen)}${a?.diag?.errname ? ` (${String(a.diag.errname)})` : ''}`;
}

