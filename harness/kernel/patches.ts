// A patch series (an mbox, or a folder of git-format-patch files) applied with git am onto a
// scratch copy of the chosen source; the source itself is never written.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve, basename } from 'node:path';
import { UsageError } from '../errors.ts';
import { run, type ProcOptions } from '../proc.ts';
import { note } from '../progress.ts';
import { withLock } from './lock.ts';
import { loadFragment, type Fragment } from './fragments.ts';

export interface Series {
  path: string;
  files: string[];
  /** Config fragments that ship with the series (a folder's *.config): what turns its feature on. */
  fragments: Fragment[];
  hash: string;
}

/** A series' patch files and fragments; with a base (--series-base), the base's come first. */
export function loadSeries(path: string, base?: string): Series {
  const own = loadOne(path);
  if (base === undefined) return own;
  const under = loadOne(base);
  const h = createHash('sha256').update(under.hash).update(own.hash);
  return { path: own.path, files: [...under.files, ...own.files], fragments: [...under.fragments, ...own.fragments], hash: h.digest('hex').slice(0, 12) };
}

function loadOne(path: string): Series {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new UsageError(`patch series not found: ${abs}`);
  const files = statSync(abs).isDirectory()
    ? readdirSync(abs).filter((f) => /\.(patch|mbox|eml)$/.test(f)).sort().map((f) => join(abs, f))
    : [abs];
  if (files.length === 0) throw new UsageError(`no *.patch or *.mbox files in ${abs}`);
  const fragments = statSync(abs).isDirectory()
    ? readdirSync(abs).filter((f) => f.endsWith('.config')).sort().map((f) => loadFragment(join(abs, f)))
    : [];
  const h = createHash('sha256');
  for (const f of files) h.update(basename(f)).update(readFileSync(f));
  return { path: abs, files, fragments, hash: h.digest('hex').slice(0, 12) };
}

/** Files the series touches: only these enter the scratch repository's index, which keeps git am fast. */
export function touchedFiles(series: Series): string[] {
  const out = new Set<string>();
  for (const f of series.files) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) {
      out.add(m[1]!);
      out.add(m[2]!);
    }
  }
  return [...out];
}

const git = (cwd: string, args: string[], opts: ProcOptions) =>
  run('git', ['-c', 'user.name=vfio-handover', '-c', 'user.email=vfio-handover@localhost', '-c', 'core.autocrlf=false', ...args], { cwd, shown: `git ${args[0]}`, ...opts });

/** git am's own words: which patch failed and why ("0001 subject: patch failed: file:line"). */
function amReason(out: string): string {
  const which = /Patch failed at (\d+ .*)/.exec(out)?.[1] ?? 'a patch';
  const why = out.split('\n').find((l) => /^error: /.test(l))?.replace(/^error: /, '') ?? out.trim().split('\n')[0];
  return `${which}: ${why}`;
}

/** Removes the cached patched copies of a series (every base): a whole source tree with objects, over 2 GB each. Its built
 * kernels stay cached; a later run makes the copy again. */
export function dropPatchedTrees(series: Series, cache: string): string[] {
  const patched = join(cache, 'src', 'patched');
  const gone = existsSync(patched) ? readdirSync(patched).filter((d) => d.endsWith(`+${series.hash}`)) : [];
  for (const d of gone) rmSync(join(patched, d), { recursive: true, force: true });
  return gone;
}

/** Returns the patched tree, made once per (base, series) and cached. */
export async function patchedTree(base: string, baseLabel: string, series: Series, cache: string): Promise<string> {
  const dir = join(cache, 'src', 'patched', `${baseLabel.replace(/[^A-Za-z0-9.+-]/g, '_')}+${series.hash}`);
  const tree = join(dir, 'linux');
  const done = join(dir, '.applied');
  if (existsSync(done)) return tree;
  return withLock(`${dir}.lock`, async () => {
    if (existsSync(done)) return tree;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    note(`applying ${series.files.length} patch(es) from ${series.path} onto a copy of ${baseLabel}`);
    const tmp = `${tree}.tmp`;
    // The base's object folders (.vh-build-*) stay behind: a build seeds from them explicitly.
    const entries = readdirSync(base).filter((e) => !e.startsWith('.vh-build-')).map((e) => join(base, e));
    mkdirSync(tmp);
    await run('cp', ['-a', '--reflink=auto', ...entries, tmp], { failure: `copying ${base} for patching failed` });
    // A build tree must be pristine for O= builds; the copy takes none of the base's git state.
    rmSync(join(tmp, '.git'), { recursive: true, force: true });
    const steps: string[][] = [['init', '-q'], ['add', '-f', '--', ...touchedFiles(series).filter((f) => existsSync(join(tmp, f)))], ['commit', '-q', '--allow-empty', '-m', `base: ${baseLabel}`]];
    for (const s of steps) await git(tmp, s, { failure: `git ${s[0]} in the scratch tree failed` });
    try {
      await git(tmp, ['am', '--quiet', ...series.files], { usage: true, reason: amReason, failure: `patch series ${series.path} does not apply to ${baseLabel}` });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    renameSync(tmp, tree);
    writeFileSync(done, `${series.path}\n`);
    return tree;
  });
}
