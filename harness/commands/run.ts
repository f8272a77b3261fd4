// vfio-handover run: the suite (or the named cases) in parallel VMs, one TAP stream in case order.
import { join } from 'node:path';
import { pickCases } from '../../cases/index.ts';
import { ExitCode } from '../errors.ts';
import { runCase } from '../run-case.ts';
import { caseCost, inOrderPool, parseJobs, shard } from '../schedule.ts';
import { tapCase, tapHeader } from '../report/tap.ts';
import { note, status, endStatus } from '../progress.ts';
import type { CaseResult } from '../verdict.ts';
import { parseRequire, prepare, type RunValues } from '../session.ts';

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

export async function cmdRun(positionals: string[], values: RunValues): Promise<number> {
  const cases = shard(pickCases(positionals), values.shard);
  const require = parseRequire(values.require);
  const jobs = parseJobs(values.jobs);
  const { results, tapOut, emit, ctx } = await prepare(values, cases.map((c) => c.name));
  emit(tapHeader(cases.length));
  const phases = new Map<string, string>();
  const showPhases = () => status([...phases].map(([k, p]) => `${k}: ${p}`).join(' | '), 0);
  // Cases run in parallel VMs; their verdicts are reported in case order, so the output is the same either way.
  const done = await inOrderPool(
    cases,
    jobs,
    async (c, i) => {
      const r = await runCase(c, {
        ...ctx(i, cases.length, values.append),
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
      emit(tapCase(r, i + 1));
      note(`[${i + 1}/${cases.length}] ${r.case}: ${r.status.toUpperCase()}${r.reason ? ` - ${r.reason}` : ''}`);
      showPhases();
    },
    caseCost,
  );
  endStatus();
  process[tapOut ? 'stderr' : 'stdout'].write(`${summaryTable(done).join('\n')}\n`);
  for (const r of done.filter((x) => x.status === 'fail' || x.status === 'error' || x.status === 'miss')) {
    process.stderr.write(`\n${r.case}: ${r.status.toUpperCase()} - ${whyFirst(r)}\n`);
    process.stderr.write(`full console: ${join(results.dir, `${r.case}.console.log`)}\n`);
  }
  const code = exitCodeFor(done);
  results.meta({ finished: new Date().toISOString(), exitCode: code, jobs, shard: values.shard });
  return code;
}

/** For a person: the first failing assertion's own words, or the console lines that explain an error. */
function whyFirst(r: CaseResult): string {
  if (r.status !== 'fail') return `${r.reason}\n${(r.excerpt ?? '').split('\n').slice(0, 15).join('\n')}`;
  const a = r.assertions.find((x) => !x.ok);
  return `${a?.name}: expected ${String(a?.diag?.expected)}, saw ${String(a?.diag?.seen)}${a?.diag?.errname ? ` (${String(a.diag.errname)})` : ''}`;
}

