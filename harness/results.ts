// results/<run-id>/: everything a run learns, written as it arrives; results/latest points at the newest.
import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve, basename } from 'node:path';
import { repoRoot } from './paths.ts';
import type { CaseResult } from './verdict.ts';
import { junitXml } from './report/junit.ts';
import { kcidbJson, type KcidbContext } from './report/kcidb.ts';

/** Whole-file reports are replaced atomically, so a crash leaves the last good one. */
function writeAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export class ResultsDir {
  readonly dir: string;
  readonly tapFile: string;
  readonly id: string;
  /** Verdicts by case position: the files list cases in suite order, whatever order they finished in. */
  private readonly results: CaseResult[] = [];
  private kcidb?: KcidbContext;
  private metadata: Record<string, unknown> = {};

  constructor(root?: string) {
    const base = resolve(root ?? join(repoRoot, 'results'));
    const id = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '') + `-${process.pid}`;
    this.id = id;
    this.dir = join(base, id);
    mkdirSync(this.dir, { recursive: true });
    this.tapFile = join(this.dir, 'report.tap');
    writeFileSync(this.tapFile, '');
    const latest = join(base, 'latest');
    rmSync(latest, { force: true });
    try {
      symlinkSync(basename(this.dir), latest);
    } catch {
      /* a concurrent run won the race: its link is as good */
    }
  }

  tap(lines: string[]): void {
    appendFileSync(this.tapFile, lines.map((l) => `${l}\n`).join(''));
  }

  /** Everything known about one finished case, in every format, before the next case starts. */
  caseResult(r: CaseResult, index = this.results.length): void {
    this.results[index] = r;
    appendFileSync(join(this.dir, 'cases.jsonl'), `${JSON.stringify(r)}\n`);
    const done = this.results.filter(Boolean);
    writeAtomic(join(this.dir, 'junit.xml'), junitXml(done, `vfio-handover ${this.id}`));
    if (this.kcidb) writeAtomic(join(this.dir, 'kcidb.json'), `${JSON.stringify(kcidbJson(this.kcidb, done), null, 2)}\n`);
  }

  meta(data: Record<string, unknown>, kcidb?: KcidbContext): void {
    this.metadata = { ...this.metadata, ...data };
    if (kcidb) this.kcidb = kcidb;
    writeAtomic(join(this.dir, 'run.json'), `${JSON.stringify(this.metadata, null, 2)}\n`);
  }
}
