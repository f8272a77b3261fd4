// vfio-handover selftest: the negative controls, each a real run with its cheat on.
import { ExitCode } from '../errors.ts';
import { runCase } from '../run-case.ts';
import { controlCase, controls, judgeControl } from '../selftest.ts';
import { yamlBlock } from '../report/yaml.ts';
import { tapHeader } from '../report/tap.ts';
import { note, endStatus } from '../progress.ts';
import { parseRequire, prepare, type RunValues } from '../session.ts';

/** Each negative control is a real run of its case with the cheat on; ok means its guard caught it. */
export async function cmdSelftest(values: RunValues): Promise<number> {
  const require = parseRequire(values.require);
  const { results, tapOut, emit, ctx } = await prepare(values, controls.map((c) => `${c.caseName} (vh.cheat=${c.cheat})`));
  emit(tapHeader(controls.length));
  let missed = 0;
  let skipped = 0;
  let broken = 0;
  for (const [i, control] of controls.entries()) {
    const c = controlCase(control);
    const append = [values.append, `vh.cheat=${control.cheat}`].filter(Boolean).join(' ');
    const r = await runCase(c, ctx(i, controls.length, append));
    endStatus();
    results.caseResult({ ...r, case: `${c.name}+${control.cheat}` });
    const v = judgeControl(control, r, require);
    if (v.skip) skipped++;
    else if (!v.caught) missed++;
    if (r.status === 'error') broken++;
    const line = v.skip
      ? `ok ${i + 1} - ${control.cheat}: a driver that ${control.does} # SKIP ${v.skip}`
      : `${v.caught ? 'ok' : 'not ok'} ${i + 1} - ${control.cheat}: a driver that ${control.does}`;
    emit([line, ...yamlBlock({ guard: control.guard, verdict: v.detail }, '  ')]);
    note(`[${i + 1}/${controls.length}] ${control.cheat}: ${v.skip ? 'SKIP' : v.caught ? 'caught' : 'NOT CAUGHT'} - ${v.detail}`);
  }
  if (!tapOut) process.stdout.write(`${controls.length - missed - skipped}/${controls.length} controls caught${skipped ? `, ${skipped} skipped` : ''}\n`);
  return broken ? ExitCode.infra : missed ? ExitCode.failed : ExitCode.ok;
}

