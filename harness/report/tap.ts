// The one TAP 14 stream on stdout: a subtest per case, an assertion per test point.
import type { Assertion, CaseResult } from '../verdict.ts';
import { yamlBlock } from './yaml.ts';

export function tapHeader(cases: number): string[] {
  return ['TAP version 14', `1..${cases}`];
}

/** Test points at one depth: each assertion, a kselftest's own points as its subtest one level deeper. */
function tapPoints(assertions: Assertion[], ind: string): string[] {
  return assertions.flatMap((a, i) => {
    // A SKIP carries its reason; otherwise the step's time, which TAP readers parse as time=.
    const directive = a.skip ? ` # SKIP ${a.skip}` : a.durationMs !== undefined ? ` # time=${a.durationMs}ms` : '';
    const sub = a.subtests?.length ? [`${ind}# Subtest: ${a.name}`, `${ind}    1..${a.subtests.length}`, ...tapPoints(a.subtests, `${ind}    `)] : [];
    // An ok carries a diag only where it says why it holds without the step running (a refused kexec): shown, never silent.
    return [...sub, `${ind}${a.ok ? 'ok' : 'not ok'} ${i + 1} - ${a.name}${directive}`, ...(a.diag ? yamlBlock(a.diag, `${ind}  `) : [])];
  });
}

export function tapCase(r: CaseResult, n: number): string[] {
  const ind = '    ';
  const lines = [`# Subtest: ${r.case}`, `${ind}1..${r.assertions.length}`, ...tapPoints(r.assertions, ind)];
  // Facts and timings as comments: readable in the stream, invisible to TAP consumers.
  for (const [k, v] of Object.entries(r.timings)) lines.push(`${ind}# timing ${k}=${v}`);
  for (const [k, v] of Object.entries(r.info)) lines.push(`${ind}# info ${k}=${v}`);
  const time = r.timings.wall_ms !== undefined ? ` # time=${r.timings.wall_ms}ms` : '';
  if (r.status === 'skip') {
    lines.push(`ok ${n} - ${r.case} # SKIP ${r.reason ?? ''}`);
  } else if (r.status === 'pass') {
    lines.push(`ok ${n} - ${r.case}${time}`);
  } else {
    lines.push(`not ok ${n} - ${r.case}${time}`);
    lines.push(
      ...yamlBlock(
        { severity: r.status, reason: r.reason, phase: r.phase, excerpt: r.excerpt },
        '  ',
      ),
    );
  }
  return lines;
}
