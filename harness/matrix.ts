// The claims matrix: each kernel placed guarantee by guarantee, every cell explained by the assertion that decided it.
import { allAssertions, modeOf, type Case } from '../cases/case.ts';
import type { Mode } from '../cases/contract.ts';
import { claimOfAssertion, splitQualified } from '../cases/claims.ts';
import { claims, type Claim } from '../kernels/capabilities.ts';
import { claimOf, type CaseResult } from './verdict.ts';

export type CellStatus = 'ok' | 'not ok' | 'skip';

/** One kernel's verdict on one claim, as matrix.json holds it. */
export interface Cell {
  kernel: string;
  claim: Claim;
  mode: Mode;
  status: CellStatus;
  /** not ok: the first failing assertion (case: name) and what it saw. */
  assertion?: string;
  seen?: string;
  /** skip: the kernel's reason. */
  reason?: string;
}

export interface MatrixKernel {
  id: string;
  spec: string;
  patches?: string;
}

export interface Matrix {
  kernels: MatrixKernel[];
  cells: Cell[];
}

interface Verdict {
  assertion: string;
  ok: boolean;
  skip?: string;
  seen?: string;
  /** Never checked: an earlier step failed, or the stage never started (diag phase "blocked"). */
  blocked?: boolean;
}

/** Every verdict a run gave that stands for `claim`: assertions, a case skipped before boot, a run that failed. */
function verdictsFor(claim: Claim, runs: { c: Case; r: CaseResult }[]): Verdict[] {
  return runs.flatMap(({ c, r }): Verdict[] => {
    const touches = allAssertions(c).some((q) => claimOfAssertion(c, splitQualified(q).stage, splitQualified(q).name) === claim);
    if (!touches) return [];
    if (r.status === 'error' || r.status === 'miss') return brokenRun(claim, c, r);
    if (r.assertions.length === 0 && r.status === 'skip') return [{ assertion: c.name, ok: true, skip: r.reason }];
    return r.assertions
      .filter((a) => claimOfAssertion(c, splitQualified(a.name).stage, splitQualified(a.name).name) === claim)
      .map((a) => ({ assertion: `${c.name}: ${a.name}`, ok: a.ok, skip: a.skip, seen: a.diag ? String(a.diag.seen ?? '') : undefined, blocked: !a.ok && a.diag?.phase === 'blocked' }));
  });
}


/** A run that broke (ERROR, MISS): what it reported counts as reported, and the break counts against the claim of the
 * step it stopped at (the first declared assertion it never reported), not against every claim the case touches. */
function brokenRun(claim: Claim, c: Case, r: CaseResult): Verdict[] {
  const claimOf = (q: string) => claimOfAssertion(c, splitQualified(q).stage, splitQualified(q).name);
  const reported = new Set(r.assertions.map((a) => a.name));
  const stopped = allAssertions(c).find((q) => !reported.has(q));
  const ran: Verdict[] = r.assertions
    .filter((a) => claimOf(a.name) === claim)
    .map((a) => ({ assertion: `${c.name}: ${a.name}`, ok: a.ok, skip: a.skip, seen: a.diag ? String(a.diag.seen ?? '') : undefined }));
  const broke = stopped === undefined || claimOf(stopped) === claim;
  return broke ? [...ran, { assertion: `${c.name}: ${stopped ?? 'run'} (${r.status})`, ok: false, seen: `${r.status}: ${r.reason ?? ''}` }] : ran;
}

/** not ok if any assertion of the claim failed (the first, in suite order), else SKIP if any skipped, else ok. */
export function cellOf(kernel: string, claim: Claim, runs: { c: Case; r: CaseResult }[], mode: Mode = 'noiommu'): Cell {
  const base = { kernel, claim, mode };
  // What an earlier failure kept from being checked says nothing of this claim; that failure has its own cell.
  const all = verdictsFor(claim, runs);
  const vs = all.filter((v) => !v.blocked);
  const unchecked = all.find((v) => v.blocked);
  const failed = vs.find((v) => !v.ok);
  if (failed) return { ...base, status: 'not ok', assertion: failed.assertion, seen: failed.seen };
  // A SKIP for another claim the kernel refused (memfd checks after a refused device fd) says nothing of this one.
  const foreign = (v: Verdict) => v.skip !== undefined && claimOf(v.skip) !== undefined && claimOf(v.skip) !== claim;
  const skipped = vs.find((v) => v.skip && !foreign(v));
  if (skipped) return { ...base, status: 'skip', assertion: skipped.assertion, reason: skipped.skip };
  if (vs.some((v) => v.ok && !v.skip)) return { ...base, status: 'ok' };
  const other = vs.find((v) => v.skip);
  if (other) return { ...base, status: 'skip', assertion: other.assertion, reason: other.skip };
  if (unchecked) return { ...base, status: 'skip', assertion: unchecked.assertion, reason: `not checked: ${unchecked.seen}` };
  return { ...base, status: 'skip', reason: 'no case run here asserts it' };
}

/** A row of the matrix: a claim in one mode. */
export interface Row {
  claim: Claim;
  mode: Mode;
}

/** Every claim in no-IOMMU mode (the seed's base line), then the claims the iommu-mode cases stand for. */
export function matrixRows(cases: Case[]): Row[] {
  const touched = (c: Case) => allAssertions(c).map((q) => claimOfAssertion(c, splitQualified(q).stage, splitQualified(q).name));
  const inIommu = new Set(cases.filter((c) => modeOf(c) === 'iommu').flatMap(touched));
  const all = Object.keys(claims) as Claim[];
  return [...all.filter((cl) => cl !== 'iommu').map((claim) => ({ claim, mode: 'noiommu' as const })), ...all.filter((cl) => inIommu.has(cl)).map((claim) => ({ claim, mode: 'iommu' as const }))];
}

/** One cell per row, each from the runs of its mode's cases only. */
export function kernelCells(kernel: string, runs: { c: Case; r: CaseResult }[], rows: Row[] = matrixRows(runs.map((x) => x.c))): Cell[] {
  return rows.map(({ claim, mode }) => cellOf(kernel, claim, runs.filter((x) => modeOf(x.c) === mode), mode));
}

/** The rows a matrix holds, in its cells' order. */
function rowsOf(m: Matrix): Row[] {
  const seen = new Map<string, Row>();
  for (const c of m.cells) seen.set(`${c.claim}@${c.mode}`, { claim: c.claim, mode: c.mode });
  return [...seen.values()];
}

const rowName = (r: Row) => (r.mode === 'iommu' ? `${r.claim} (iommu)` : r.claim);

function cellText(c: Cell | undefined): string {
  if (!c) return '';
  if (c.status === 'ok') return 'ok';
  if (c.status === 'skip') return `SKIP ${c.reason ?? ''}`;
  return `not ok: ${c.assertion} (${c.seen ?? ''})`;
}

const mdEscape = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Claims down, kernels across, one line per claim: what a person reads on stdout and in the README. */
export function matrixMarkdown(m: Matrix): string {
  const head = `| claim | ${m.kernels.map((k) => `\`${k.spec}${k.patches ? ` + ${k.patches}` : ''}\``).join(' | ')} |`;
  const rule = `| --- | ${m.kernels.map(() => '---').join(' | ')} |`;
  const rows = rowsOf(m).map(
    (r) => `| \`${rowName(r)}\` | ${m.kernels.map((k) => mdEscape(cellText(m.cells.find((c) => c.kernel === k.id && c.claim === r.claim && c.mode === r.mode)))).join(' | ')} |`,
  );
  return [head, rule, ...rows].join('\n');
}

const htmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One self-contained page (no scripts, no fetches): the same table, coloured by status, claims explained. */
export function matrixHtml(m: Matrix, title: string): string {
  const colour: Record<CellStatus, string> = { ok: '#d4f4d4', 'not ok': '#f8d0d0', skip: '#eeeeee' };
  const th = m.kernels.map((k) => `<th>${htmlEscape(k.spec)}${k.patches ? `<br><small>+ ${htmlEscape(k.patches)}</small>` : ''}</th>`).join('');
  const rows = rowsOf(m)
    .map((r) => {
      const cl = r.claim;
      const tds = m.kernels
        .map((k) => {
          const c = m.cells.find((x) => x.kernel === k.id && x.claim === cl && x.mode === r.mode);
          return `<td style="background:${c ? colour[c.status] : '#fff'}">${htmlEscape(cellText(c))}</td>`;
        })
        .join('');
      return `<tr><th title="${htmlEscape(claims[cl])}">${htmlEscape(rowName(r))}<br><small>${htmlEscape(claims[cl])}</small></th>${tds}</tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${htmlEscape(title)}</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:4px 8px;vertical-align:top;text-align:left}small{color:#555}</style>
</head><body><h1>${htmlEscape(title)}</h1>
<table><tr><th>claim</th>${th}</tr>
${rows}
</table></body></html>
`;
}
