// JUnit XML (Jenkins' junit-10.xsd): a testsuite per case, a testcase per assertion; a case-level error or miss is its own testcase.
import { XMLBuilder } from 'fast-xml-parser';
import type { Assertion, CaseResult } from '../verdict.ts';

type Node = Record<string, unknown>;

/** Characters XML 1.0 cannot carry at all (C0 controls, lone surrogates, U+FFFE/F) become spaces. */
const xmlChars = (_name: string, v: unknown) =>
  String(v).replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, ' ');

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  format: true,
  suppressEmptyNode: true,
  tagValueProcessor: xmlChars,
  attributeValueProcessor: xmlChars,
});

const secs = (ms?: number) => ((ms ?? 0) / 1000).toFixed(3);

/** Why an assertion did not pass, as the child element JUnit has for it; nothing when it passed. */
function outcome(a: Assertion): Node {
  if (a.skip) return { skipped: { '@message': a.skip } };
  if (a.ok) return {};
  const diag = Object.entries(a.diag ?? {}).map(([k, v]) => `${k}: ${String(v)}`).join('\n');
  return { failure: { '@message': String(a.diag?.seen ?? 'failed'), '@type': String(a.diag?.phase ?? 'assertion'), '#text': diag } };
}

function assertionCase(r: CaseResult, a: Assertion): Node {
  return { '@classname': `vfio_handover.${r.case}`, '@name': a.name, '@time': secs(a.durationMs), ...outcome(a) };
}

/** A kselftest's own test point, classed under its parent's: vfio_handover.<case>.<kselftest point>. */
function subtestCase(r: CaseResult, parent: Assertion, a: Assertion): Node {
  return { '@classname': `vfio_handover.${r.case}.${parent.name}`, '@name': a.name, ...outcome(a) };
}

/** An error or miss says nothing about the kernel: its own testcase carries the reason and the console excerpt. */
function brokenCase(r: CaseResult): Node[] {
  if (r.status !== 'error' && r.status !== 'miss') return [];
  const error = { '@message': r.reason ?? r.status, '@type': r.status, '#text': r.excerpt ?? '' };
  return [{ '@classname': `vfio_handover.${r.case}`, '@name': `(${r.status}: ${r.phase ?? 'run'})`, '@time': secs(r.timings.wall_ms), error }];
}

/** The agent's facts and the host's timings, as the suite's properties. */
function properties(r: CaseResult): Node {
  const all = [...Object.entries(r.timings).map(([k, v]) => [`timing.${k}`, v]), ...Object.entries(r.info).map(([k, v]) => [`info.${k}`, v])];
  return all.length ? { properties: { property: all.map(([name, value]) => ({ '@name': name, '@value': value })) } } : {};
}

function counts(r: CaseResult) {
  const all = r.assertions.flatMap((a) => [a, ...(a.subtests ?? [])]);
  return {
    failures: all.filter((a) => !a.ok).length,
    errors: r.status === 'error' || r.status === 'miss' ? 1 : 0,
    skipped: all.filter((a) => a.skip).length,
  };
}

function suite(r: CaseResult): Node {
  const testcase = [...r.assertions.flatMap((a) => [assertionCase(r, a), ...(a.subtests ?? []).map((s) => subtestCase(r, a, s))]), ...brokenCase(r)];
  const n = counts(r);
  return {
    '@name': r.case,
    '@tests': testcase.length,
    '@failures': n.failures,
    '@errors': n.errors,
    '@skipped': n.skipped,
    '@time': secs(r.timings.wall_ms),
    ...properties(r),
    testcase,
  };
}

export function junitXml(results: CaseResult[], runName: string): string {
  const suites = results.map(suite);
  const total = (k: '@tests' | '@failures' | '@errors') => suites.reduce((s, x) => s + Number(x[k]), 0);
  return builder.build({
    '?xml': { '@version': '1.0', '@encoding': 'UTF-8' },
    testsuites: { '@name': runName, '@tests': total('@tests'), '@failures': total('@failures'), '@errors': total('@errors'), testsuite: suites },
  });
}
