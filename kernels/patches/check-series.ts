// check-series DIR [CASE...] [--series-base PATH]: checks that every prefix of a patch series (patches 1..k, for each k)
// passes checkpatch, builds and boots. Each prefix goes through the harness's --patches path on the
// Debian source, seeded with the unpatched build's objects, and runs the cases (default: the suite);
// one line per patch. What it reads from the harness: exit codes, the `source` line `build` prints
// on stdout, and the run's results/<run-id>/ (run.json, cases.jsonl). Stderr is only ever shown.
// Exit: 0 all clean and ok, 1 a WARN, FAILED or failed case, 2 usage, 3 the default build failed.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { $, type ProcessPromise } from 'zx';
import { allCases } from '../../cases/index.ts';
import { cacheDir, repoRoot } from '../../harness/paths.ts';
import { dropPatchedTrees, loadSeries } from '../../harness/kernel/patches.ts';
import { seriesBaseFile } from '../../harness/kernel/series-base.ts';
import type { CaseResult } from '../../harness/verdict.ts';

const usage = 'usage: check-series DIR [CASE...] [--series-base PATH]';
const cli = join(repoRoot, 'vfio-handover');

function fail(code: number, line: string): never {
  process.stderr.write(`check-series: ${line}\n`);
  process.exit(code);
}

// --- the one child running now: a signal reaches it (and what it started) before we clean up ---

let current: ProcessPromise | undefined;
let work: string | undefined;
process.on('exit', () => {
  if (work) rmSync(work, { recursive: true, force: true });
});
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.on(sig, () => {
    const child = current;
    // None running, or a second signal while it winds down: leave now.
    if (!child) process.exit(code);
    current = undefined;
    const stop = setTimeout(() => process.exit(code), 10_000);
    void child.kill(sig).catch(() => {});
    void child.then(() => process.exit(code), () => process.exit(code)).finally(() => clearTimeout(stop));
  });
}

/** A child whose output we read; its failure is ours to judge, never an exception. */
async function child(p: ProcessPromise) {
  current = p;
  try {
    return await p;
  } finally {
    current = undefined;
  }
}

// --- usage ---

/** --series-base PATH, anywhere on the line: the base a series sits on, passed to every run. */
function takeSeriesBase(argv: string[]): { rest: string[]; base?: string } {
  const i = argv.indexOf('--series-base');
  if (i < 0) return { rest: argv };
  const base = argv[i + 1];
  if (base === undefined || base.startsWith('-')) fail(2, `--series-base takes a PATH (${usage})`);
  return { rest: [...argv.slice(0, i), ...argv.slice(i + 2)], base: resolve(base) };
}

const { rest: args, base: seriesBase } = takeSeriesBase(process.argv.slice(2));
const [dirArg, ...cases] = args;
if (dirArg === '-h' || dirArg === '--help') {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (dirArg === undefined) fail(2, usage);
const series = resolve(dirArg);
if (!existsSync(series) || !statSync(series).isDirectory()) fail(2, `${dirArg} is not a folder (${usage})`);
const known = new Set(allCases.map((c) => c.name));
const unknown = cases.filter((c) => !known.has(c));
if (unknown.length) fail(2, `unknown case ${unknown.map((c) => `'${c}'`).join(', ')}: 'vfio-handover list' lists them (${usage})`);
const files = readdirSync(series).sort();
const patches = files.filter((f) => f.endsWith('.patch'));
const fragments = files.filter((f) => f.endsWith('.config'));
if (!patches.length) fail(2, `no *.patch in ${series}`);

// --- what each patch brings: a fragment symbol a later patch introduces cannot land before it ---

const introduces = patches.map((p) => {
  const text = readFileSync(join(series, p), 'utf8');
  return new Set([...text.matchAll(/^\+(?:menu)?config ([A-Za-z0-9_]+)$/gm)].map((m) => m[1]!));
});
const introducedBy = (k: number) => new Set(introduces.slice(0, k).flatMap((s) => [...s]));
const laterOnly = (k: number) => {
  const early = introducedBy(k);
  return new Set([...introducedBy(patches.length)].filter((s) => !early.has(s)));
};

function writePrefix(k: number, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const p of patches.slice(0, k)) writeFileSync(join(dir, p), readFileSync(join(series, p)));
  // Every prefix sits on the series' base, as the whole series does.
  if (files.includes(seriesBaseFile)) writeFileSync(join(dir, seriesBaseFile), readFileSync(join(series, seriesBaseFile)));
  const skip = laterOnly(k);
  for (const f of fragments) {
    const lines = readFileSync(join(series, f), 'utf8').split('\n');
    const kept = lines.filter((l) => {
      const sym = /^(?:# )?CONFIG_([A-Za-z0-9_]+)[= ]/.exec(l)?.[1];
      return !(sym && skip.has(sym));
    });
    writeFileSync(join(dir, f), kept.join('\n'));
  }
}

// --- one prefix's run, judged from what it wrote ---

/** Each case's verdict; a failed case names its failed assertions (what this prefix lacks). */
function verdict(r: CaseResult): string {
  const bad = r.assertions.filter((a) => !a.ok).map((a) => a.name);
  const names = [...bad.slice(0, 4), ...(bad.length > 4 ? [`+${bad.length - 4} more`] : [])].join(',');
  switch (r.status) {
    case 'pass':
      return 'ok';
    case 'skip':
      return 'skip';
    case 'fail':
      return `FAIL(${names})`;
    default:
      return r.phase ? `${r.status.toUpperCase()}(${r.phase})` : r.status.toUpperCase();
  }
}

interface Outcome {
  built: boolean;
  /** `case:verdict ...`, or why it did not build. */
  summary: string;
  allOk: boolean;
}

interface RunJson {
  kernel?: { bzImage?: string };
  cases?: string[];
}

/** The harness writes results/<run-id>/run.json, naming the kernel it built, only once the kernel and
 * guest are built: none after a nonzero exit means the prefix did not apply, build or start. */
function outcome(resultsRoot: string, exitCode: number, stderr: string): Outcome {
  const run = join(resultsRoot, 'latest');
  const runJson = existsSync(join(run, 'run.json')) ? (JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as RunJson) : {};
  if (!runJson.kernel?.bzImage) {
    const lines = stderr.split('\n').map((l) => l.trim());
    const why = lines.filter((l) => l.startsWith('vfio-handover:')).at(-1) ?? lines.filter(Boolean).at(-1) ?? 'no results written';
    return { built: false, summary: why, allOk: false };
  }
  const jsonl = join(run, 'cases.jsonl');
  const results = existsSync(jsonl)
    ? readFileSync(jsonl, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CaseResult)
    : [];
  const planned = runJson.cases ?? [];
  const seen = new Set(results.map((r) => r.case));
  const words = [
    ...results.map((r) => `${r.case}:${verdict(r)}`),
    ...planned.filter((c) => !seen.has(c)).map((c) => `${c}:not-run`),
  ];
  const allOk = exitCode === 0 && words.every((w) => w.endsWith(':ok') || w.endsWith(':skip'));
  return { built: true, summary: words.join(' '), allOk };
}

// --- the series ---

// Checkpatch comes from the tree the series applies to (the default kernel's source).
const build = await child($({ cwd: repoRoot, nothrow: true, stdio: ['inherit', 'pipe', 'inherit'] })`${cli} build`);
const src = /^source (.+)$/m.exec(build.stdout)?.[1];
if (build.exitCode !== 0) fail(3, `the default kernel build failed (exit ${build.exitCode})`);
if (!src) fail(3, 'the default kernel build named no source tree');

work = mkdtempSync(join(tmpdir(), 'check-series-'));
let status = 0;
const row = (k: string, patch: string, cp: string, built: string, rest: string) =>
  `${k.padEnd(4)} ${patch.slice(0, 60).padEnd(60)} ${cp.padEnd(10)} ${built.padEnd(6)} ${rest}`.trimEnd();
process.stdout.write(`${row('k', 'patch', 'checkpatch', 'build', 'suite')}\n`);
for (const [i, p] of patches.entries()) {
  const k = i + 1;
  const prefix = join(work, `prefix-${k}`);
  writePrefix(k, prefix);
  const cp = await child($({ cwd: src, nothrow: true, quiet: true })`perl scripts/checkpatch.pl --strict -q ${join(series, p)} 2>&1`);
  const cpOut = cp.stdout.trimEnd();
  const results = join(work, `results-${k}`);
  const base = seriesBase ? ['--series-base', seriesBase] : [];
  const r = await child($({ cwd: repoRoot, nothrow: true, quiet: true })`${cli} run ${cases} --patches ${prefix} ${base} --tap --results ${results}`);
  const exitCode = r.exitCode ?? 128;
  const o = outcome(results, exitCode, r.stderr);
  if (cpOut || !o.allOk) status = 1;
  process.stdout.write(`${row(String(k), p, cpOut ? 'WARN' : 'clean', o.built ? 'ok' : 'FAILED', `exit=${exitCode} ${o.summary}`)}\n`);
  if (cpOut) process.stdout.write(`${cpOut.replace(/^/gm, '    ')}\n`);
  // Each prefix's tree is a whole patched copy (over 2 GB); ten filled the disk. The whole series' tree is every run's.
  if (k < patches.length) dropPatchedTrees(loadSeries(prefix, seriesBase), cacheDir());
}
process.exit(status);
