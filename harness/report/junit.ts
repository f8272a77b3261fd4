// JUnit XML: a testsuite per case, a testcase per assertion; a case-level error or miss is its own testcase.
import type { CaseResult } from '../verdict.ts';

function esc(s: string): string {
  return s
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

const secs = (ms?: number) => ((ms ?? 0) / 1000).toFixed(3);

export function junitXml(results: CaseResult[], runName: string): string {
  const suites = results.map((r) => {
    const cases = r.assertions.map((a) => {
      const open = `    <testcase classname="${esc(`vfio_handover.${r.case}`)}" name="${esc(a.name)}" time="${secs(a.durationMs)}"`;
      if (a.skip) return `${open}>\n      <skipped message="${esc(a.skip)}"/>\n    </testcase>`;
      if (!a.ok) {
        const diag = Object.entries(a.diag ?? {}).map(([k, v]) => `${k}: ${String(v)}`).join('\n');
        return `${open}>\n      <failure message="${esc(String(a.diag?.seen ?? 'failed'))}" type="${esc(String(a.diag?.phase ?? 'assertion'))}">${esc(diag)}</failure>\n    </testcase>`;
      }
      return `${open}/>`;
    });
    if (r.status === 'error' || r.status === 'miss') {
      cases.push(
        `    <testcase classname="${esc(`vfio_handover.${r.case}`)}" name="(${r.status}: ${esc(r.phase ?? 'run')})" time="${secs(r.timings.wall_ms)}">\n` +
          `      <error message="${esc(r.reason ?? r.status)}" type="${r.status}">${esc(r.excerpt ?? '')}</error>\n    </testcase>`,
      );
    }
    const count = (f: (a: CaseResult['assertions'][number]) => boolean) => r.assertions.filter(f).length;
    const errors = r.status === 'error' || r.status === 'miss' ? 1 : 0;
    return (
      `  <testsuite name="${esc(r.case)}" tests="${cases.length}" failures="${count((a) => !a.ok)}" errors="${errors}" ` +
      `skipped="${count((a) => Boolean(a.skip))}" time="${secs(r.timings.wall_ms)}">\n${cases.join('\n')}\n  </testsuite>`
    );
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${esc(runName)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
