// vfio-handover matrix: kernels across, claims down; every cell the assertion that decided it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Case } from '../../cases/case.ts';
import { allCases } from '../../cases/index.ts';
import { ExitCode, UsageError } from '../errors.ts';
import { defaultKernelSpec, parseKernelSpec, type KernelSpec } from '../kernel/spec.ts';
import { kernelCells, matrixHtml, matrixMarkdown, type Matrix, type MatrixKernel } from '../matrix.ts';
import { note, endStatus } from '../progress.ts';
import { ResultsDir } from '../results.ts';
import { runCase } from '../run-case.ts';
import { caseCost, inOrderPool, parseJobs } from '../schedule.ts';
import { caseContext, kselftestsOf, openSession } from '../session.ts';
import type { CaseResult } from '../verdict.ts';
import { defineCommand, parseTimeouts, specNeedsBase, type OptionTable, type ParsedToken } from './options.ts';
import type { Phase } from '../run-case.ts';

const matrixOptions = {
  kernel: { type: 'string', multiple: true, arg: 'SPEC', help: `a kernel column, repeatable (default: ${defaultKernelSpec})` },
  patches: { type: 'string', multiple: true, arg: 'PATH', help: 'a series applied to the --kernel just before it' },
  'series-base': { type: 'string', arg: 'PATH', help: 'the patches a column\'s series sits on (its series-base file names them), for every column whose series needs them' },
  results: { type: 'string', arg: 'DIR', help: 'write results/<run-id> (matrix.json, matrix.html, each kernel\'s logs) under DIR' },
  jobs: { type: 'string', short: 'j', arg: 'N', help: 'VMs at once per kernel' },
  timeout: { type: 'string', multiple: true, arg: 'PHASE=S', help: 'seconds of silence allowed in a phase' },
} satisfies OptionTable;

interface Column {
  kernel: MatrixKernel;
  spec: KernelSpec;
}

interface MatrixPlan {
  columns: Column[];
  jobs: number;
  results?: string;
  timeouts: Partial<Record<Phase, number>>;
}

/** A column's id, for dashboards: the spec, and the series' folder name when --patches adds one. */
const columnId = (spec: string, patches?: string) => `${spec}${patches ? `+${basename(patches.replace(/\/+$/, ''))}` : ''}`;

/** --kernel and --patches in command-line order: each --patches belongs to the --kernel before it. */
export function matrixColumns(tokens: ParsedToken[], seriesBase?: string): Column[] {
  const given: { spec: string; patches?: string }[] = [];
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (t.name === 'kernel') given.push({ spec: t.value! });
    if (t.name !== 'patches') continue;
    const last = given[given.length - 1];
    if (!last) throw new UsageError(`--patches ${t.value} applies to the --kernel before it, and none comes before it`);
    if (last.patches) throw new UsageError(`--kernel ${last.spec} has two --patches: ${last.patches} and ${t.value}`);
    last.patches = t.value;
  }
  if (given.length === 0) given.push({ spec: defaultKernelSpec });
  if (seriesBase !== undefined && !given.some((g) => specNeedsBase(g.spec, g.patches))) {
    throw new UsageError(`--series-base ${seriesBase}: no --kernel's series names a base`);
  }
  const baseOf = (g: { spec: string; patches?: string }) => (specNeedsBase(g.spec, g.patches) ? seriesBase : undefined);
  const columns = given.map((g) => ({ kernel: { id: columnId(g.spec, g.patches), spec: g.spec, ...(g.patches ? { patches: g.patches } : {}) }, spec: parseKernelSpec(g.spec, g.patches, baseOf(g)) }));
  const ids = columns.map((c) => c.kernel.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new UsageError(`kernel ${twice} is named twice`);
  return columns;
}

export const matrixCommand = defineCommand({
  name: 'matrix',
  summary: 'run the suite on each kernel and place it claim by claim: Markdown on stdout, matrix.json and matrix.html in results/',
  options: matrixOptions,
  plan: (v, _positionals, tokens): MatrixPlan => ({ columns: matrixColumns(tokens, v['series-base']), jobs: parseJobs(v.jobs), results: v.results, timeouts: parseTimeouts(v.timeout) }),
  run: cmdMatrix,
});

/** The whole suite on one kernel, its logs in a folder of its own. */
async function runColumn(col: Column, plan: MatrixPlan, dir: string): Promise<{ c: Case; r: CaseResult }[]> {
  const s = await openSession({ kernel: col.spec, timeouts: plan.timeouts, kselftests: kselftestsOf(allCases) });
  mkdirSync(dir, { recursive: true });
  note(`matrix: ${col.kernel.id} with ${s.accel.name.toUpperCase()}, logs in ${dir}`);
  const results = await inOrderPool(
    allCases,
    plan.jobs,
    (c, i) => runCase(c, caseContext(s, dir, i, allCases.length)),
    (r, i) => {
      endStatus();
      note(`[${col.kernel.id}] [${i + 1}/${allCases.length}] ${r.case}: ${r.status.toUpperCase()}${r.reason ? ` - ${r.reason}` : ''}`);
    },
    caseCost,
  );
  return results.map((r, i) => ({ c: allCases[i]!, r }));
}

async function cmdMatrix(plan: MatrixPlan): Promise<number> {
  const out = new ResultsDir(plan.results);
  const m: Matrix = { kernels: plan.columns.map((c) => c.kernel), cells: [] };
  let broken = false;
  for (const col of plan.columns) {
    const runs = await runColumn(col, plan, join(out.dir, col.kernel.id.replace(/[^A-Za-z0-9.+-]/g, '_')));
    broken ||= runs.some(({ r }) => r.status === 'error' || r.status === 'miss');
    for (const { r } of runs) out.caseResult({ ...r, case: `${col.kernel.id}/${r.case}` });
    m.cells.push(...kernelCells(col.kernel.id, runs));
    // Written as each kernel finishes: an interrupted matrix keeps its finished columns.
    writeFileSync(join(out.dir, 'matrix.json'), `${JSON.stringify(m, null, 2)}\n`);
    writeFileSync(join(out.dir, 'matrix.html'), matrixHtml(m, `vfio-handover claims matrix ${out.id}`));
  }
  process.stdout.write(`${matrixMarkdown(m)}\n`);
  note(`matrix.json and matrix.html in ${out.dir}`);
  return broken ? ExitCode.infra : ExitCode.ok;
}
