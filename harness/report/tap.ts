// The one TAP 14 stream on stdout: a subtest per case, an assertion per test point.
import type { CaseResult } from '../verdict.ts';
import { yamlBlock } from './yaml.ts';

export function tapHeader(cases: number): string[] {
  return ['TAP version 14', `1..${cases}`];
}

export function tapCase(r: CaseResult, n: number): string[] {
  const ind = '    ';
  const lines = [`# Subtest: ${r.case}`, `${ind}1..${r.assertions.length}`];
  r.assertions.forEach((a, i) => {
    // A SKIP carries its reason; otherwise the step's time, which TAP readers parse as time=.
    const directive = a.skip ? ` # SKIP ${a.skip}` : a.durationMs !== undefined ? ` # time=${a.durationMs}ms` : '';
    lines.push(`${ind}${a.ok ? 'ok' : 'not ok'} ${i + 1} - ${a.name}${directive}`);
    if (!a.ok && a.diag) lines.push(...yamlBlock(a.diag, `${ind}  `));
  });
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
