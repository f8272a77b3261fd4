// vfio-handover selftest: the negative controls, each a real run with its cheat on.
import { ExitCode, UsageError } from '../errors.ts';
import { runCase } from '../run-case.ts';
import { basename, join } from 'node:path';
import { controlCase, controls, judgeControl, type Control, kernelControlBase, kernelControls, type ControlVerdict, type KernelControl } from '../selftest.ts';
import type { CaseResult } from '../verdict.ts';
import { parseKernelSpec, type KernelSpec } from '../kernel/spec.ts';
import { repoRoot } from '../paths.ts';
import { yamlBlock } from '../report/yaml.ts';
import { tapHeader } from '../report/tap.ts';
import { note, endStatus } from '../progress.ts';
import type { RequiredClaim } from '../../cases/claims.ts';
import { word } from '../../cases/contract.ts';
import { caseContext, openSession, type SessionRequest } from '../session.ts';
import { Reporter, type ReporterOptions } from '../reporter.ts';
import { defineCommand, kernelOptions, parseRequire, reportOptions, sessionRequestOf, vmOptions } from './options.ts';

interface SelftestPlan {
  cheats: Control[];
  kernels: { control: KernelControl; spec: KernelSpec }[];
  require: RequiredClaim[];
  append?: string;
  session: SessionRequest;
  report: ReporterOptions;
}

export const selftestCommand = defineCommand({
  name: 'selftest',
  args: '[CONTROL...]',
  summary: 'run the negative controls (drivers that cheat on purpose; on the reference series also its control kernels); ok = caught',
  options: { ...kernelOptions, ...vmOptions, ...reportOptions },
  plan: (v, positionals): SelftestPlan => {
    const session = sessionRequestOf(v);
    return { ...pickControls(positionals, session.kernel), require: parseRequire(v.require), append: v.append, session, report: { results: v.results, tap: v.tap } };
  },
  run: cmdSelftest,
});

/** One line of the selftest's TAP and its YAML, and the progress note. */
interface ControlOutcome {
  what: string;
  guard: string;
  v: ControlVerdict;
}

const kernelControlName = (c: KernelControl) => basename(c.patches);

/** Kernel controls apply where the kernel under test is the series they break. */
function kernelControlsFor(spec: KernelSpec): { control: KernelControl; spec: KernelSpec }[] {
  if (spec.kind !== 'debian' || spec.patches !== join(repoRoot, 'kernels', 'patches', kernelControlBase)) return [];
  return kernelControls.map((control) => ({ control, spec: parseKernelSpec(`debian:${spec.series}`, join(repoRoot, control.patches)) }));
}

/** The controls named (default: all that apply to this kernel); a name that is none, or needs another kernel, is a usage error. */
function pickControls(names: string[], kernel: KernelSpec): Pick<SelftestPlan, 'cheats' | 'kernels'> {
  const kernels = kernelControlsFor(kernel);
  if (names.length === 0) return { cheats: controls, kernels };
  for (const n of names) {
    if (controls.some((c) => c.cheat === n) || kernels.some((k) => kernelControlName(k.control) === n)) continue;
    if (kernelControls.some((k) => kernelControlName(k) === n)) throw new UsageError(`control kernel ${n} sits on ${kernelControlBase}: run it with --kernel debian:7.3+${kernelControlBase}`);
    throw new UsageError(`unknown control '${n}': ${[...controls.map((c) => c.cheat), ...kernelControls.map(kernelControlName)].join(', ')}`);
  }
  return { cheats: controls.filter((c) => names.includes(c.cheat)), kernels: kernels.filter((k) => names.includes(kernelControlName(k.control))) };
}

/** Each negative control is a real run of its case with the cheat on, or on its control kernel; ok means its guard caught it. */
async function cmdSelftest({ cheats, kernels, require, append: userAppend, session, report }: SelftestPlan): Promise<number> {
  const s = await openSession(session);
  const names = [
    ...cheats.map((c) => `${c.caseName} (${word('cheat', c.cheat)})`),
    ...kernels.map(({ control }) => `${control.caseName} (${kernelControlName(control)})`),
  ];
  const total = names.length;
  const rep = new Reporter(s, report, names);
  const { results } = rep;
  rep.emit(tapHeader(total));
  let missed = 0;
  let skipped = 0;
  let broken = 0;
  const record = (i: number, r: CaseResult, o: ControlOutcome) => {
    if (o.v.skip) skipped++;
    else if (!o.v.caught) missed++;
    if (r.status === 'error') broken++;
    const line = o.v.skip ? `ok ${i + 1} - ${o.what} # SKIP ${o.v.skip}` : `${o.v.caught ? 'ok' : 'not ok'} ${i + 1} - ${o.what}`;
    rep.emit([line, ...yamlBlock({ guard: o.guard, verdict: o.v.detail }, '  ')]);
    note(`[${i + 1}/${total}] ${o.what.split(':')[0]}: ${o.v.skip ? 'SKIP' : o.v.caught ? 'caught' : 'NOT CAUGHT'} - ${o.v.detail}`);
  };
  for (const [i, control] of cheats.entries()) {
    const c = controlCase(control);
    const append = [userAppend, word('cheat', control.cheat)].filter(Boolean).join(' ');
    const r = await runCase(c, caseContext(s, results.dir, i, total, append));
    endStatus();
    results.caseResult({ ...r, case: `${c.name}+${control.cheat}` });
    record(i, r, { what: `${control.cheat}: a driver that ${control.does}`, guard: control.guard, v: judgeControl(control, r, require) });
  }
  for (const [k, { control, spec }] of kernels.entries()) {
    const i = cheats.length + k;
    const c = controlCase(control);
    // Each control kernel builds on the shared objects of the unpatched build, about a minute each.
    const ks = await openSession({ ...session, kernel: spec });
    const r = await runCase(c, caseContext(ks, results.dir, i, total, userAppend));
    endStatus();
    results.caseResult({ ...r, case: `${c.name}+${kernelControlName(control)}` });
    record(i, r, { what: `${kernelControlName(control)}: a kernel that ${control.does}`, guard: control.guard, v: judgeControl(control, r, require) });
  }
  if (!rep.tapOut) process.stdout.write(`${total - missed - skipped}/${total} controls caught${skipped ? `, ${skipped} skipped` : ''}\n`);
  return broken ? ExitCode.infra : missed ? ExitCode.failed : ExitCode.ok;
}
