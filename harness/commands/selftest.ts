// vfio-handover selftest: the negative controls, each a real run with its cheat on.
import { ExitCode } from '../errors.ts';
import { runCase } from '../run-case.ts';
import { controlCase, controls, judgeControl } from '../selftest.ts';
import { yamlBlock } from '../report/yaml.ts';
import { tapHeader } from '../report/tap.ts';
import { note, endStatus } from '../progress.ts';
import type { Claim } from '../../kernels/capabilities.ts';
import { word } from '../../cases/contract.ts';
import { caseContext, openSession, type SessionRequest } from '../session.ts';
import { Reporter, type ReporterOptions } from '../reporter.ts';
import { defineCommand, kernelOptions, parseRequire, reportOptions, sessionRequestOf, vmOptions } from './options.ts';

interface SelftestPlan {
  require: Claim[];
  append?: string;
  session: SessionRequest;
  report: ReporterOptions;
}

export const selftestCommand = defineCommand({
  name: 'selftest',
  summary: 'run the negative controls: drivers that cheat on purpose; ok = caught',
  options: { ...kernelOptions, ...vmOptions, ...reportOptions },
  plan: (v): SelftestPlan => ({ require: parseRequire(v.require), append: v.append, session: sessionRequestOf(v), report: { results: v.results, tap: v.tap } }),
  run: cmdSelftest,
});

/** Each negative control is a real run of its case with the cheat on; ok means its guard caught it. */
async function cmdSelftest({ require, append: userAppend, session, report }: SelftestPlan): Promise<number> {
  const s = await openSession(session);
  const rep = new Reporter(s, report, controls.map((c) => `${c.caseName} (${word('cheat', c.cheat)})`));
  const { results } = rep;
  rep.emit(tapHeader(controls.length));
  let missed = 0;
  let skipped = 0;
  let broken = 0;
  for (const [i, control] of controls.entries()) {
    const c = controlCase(control);
    const append = [userAppend, word('cheat', control.cheat)].filter(Boolean).join(' ');
    const r = await runCase(c, caseContext(s, results.dir, i, controls.length, append));
    endStatus();
    results.caseResult({ ...r, case: `${c.name}+${control.cheat}` });
    const v = judgeControl(control, r, require);
    if (v.skip) skipped++;
    else if (!v.caught) missed++;
    if (r.status === 'error') broken++;
    const line = v.skip
      ? `ok ${i + 1} - ${control.cheat}: a driver that ${control.does} # SKIP ${v.skip}`
      : `${v.caught ? 'ok' : 'not ok'} ${i + 1} - ${control.cheat}: a driver that ${control.does}`;
    rep.emit([line, ...yamlBlock({ guard: control.guard, verdict: v.detail }, '  ')]);
    note(`[${i + 1}/${controls.length}] ${control.cheat}: ${v.skip ? 'SKIP' : v.caught ? 'caught' : 'NOT CAUGHT'} - ${v.detail}`);
  }
  if (!rep.tapOut) process.stdout.write(`${controls.length - missed - skipped}/${controls.length} controls caught${skipped ? `, ${skipped} skipped` : ''}\n`);
  return broken ? ExitCode.infra : missed ? ExitCode.failed : ExitCode.ok;
}

