// results/<run-id>/: everything a run learns, written as it arrives; results/latest points at the newest.
import { appendFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve, basename, dirname } from 'node:path';
import { repoRoot } from './paths.ts';
import type { CaseResult } from './verdict.ts';

export class ResultsDir {
  readonly dir: string;
  readonly tapFile: string;

  constructor(root?: string) {
    const base = resolve(root ?? join(repoRoot, 'results'));
    const id = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '') + `-${process.pid}`;
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

  caseResult(r: CaseResult): void {
    appendFileSync(join(this.dir, 'cases.jsonl'), `${JSON.stringify(r)}\n`);
  }

  meta(data: Record<string, unknown>): void {
    writeFileSync(join(this.dir, 'run.json'), `${JSON.stringify(data, null, 2)}\n`);
  }
}

export function relativeToCwd(p: string): string {
  const cwd = process.cwd();
  return p.startsWith(`${cwd}/`) ? p.slice(cwd.length + 1) : p.startsWith(dirname(cwd)) ? p : p;
}
