// Where a run's verdicts go: the results folder (run.json, report.tap, junit, kcidb) and TAP on stdout.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ResultsDir } from './results.ts';
import type { Session } from './session.ts';
import { note } from './progress.ts';

export interface ReporterOptions {
  /** --results: the folder results/<run-id> goes under. */
  results?: string;
  /** --tap: TAP on stdout even on a terminal. */
  tap?: boolean;
}

export class Reporter {
  readonly results: ResultsDir;
  /** Whether stdout carries the TAP stream (--tap, or stdout is not a terminal). */
  readonly tapOut: boolean;

  /** Opens results/<run-id> with what the session found, and says what is about to run. */
  constructor(s: Session, opts: ReporterOptions, caseNames: string[]) {
    this.results = new ResultsDir(opts.results);
    this.tapOut = Boolean(opts.tap) || !process.stdout.isTTY;
    this.describe(s, caseNames);
    note(`running ${caseNames.length} VM(s) on ${s.kernel.spec} with ${s.accel.name.toUpperCase()} (${s.accel.why}); results in ${this.results.dir}`);
  }

  /** TAP lines to report.tap, and to stdout when it carries TAP. */
  emit(lines: string[]): void {
    this.results.tap(lines);
    if (this.tapOut) process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  }

  private describe(s: Session, caseNames: string[]): void {
    const { kernel, next, accel, arch } = s;
    const started = new Date().toISOString();
    const configHash = kernel.config ? createHash('sha256').update(readFileSync(kernel.config)).digest('hex').slice(0, 16) : undefined;
    const identity = { spec: kernel.spec, version: kernel.version, key: kernel.key };
    this.results.meta(
      {
        started,
        kernel: { ...identity, bzImage: kernel.bzImage, release: kernel.release, configHash },
        ...(next ? { nextKernel: { spec: next.spec, version: next.version, key: next.key, bzImage: next.bzImage } } : {}),
        accel,
        qemu: s.qemuVersion,
        cases: caseNames,
      },
      {
        runId: this.results.id,
        startedAt: started,
        kernel: { ...identity, release: kernel.release, configHash },
        environment: { accel: accel.name, accelWhy: accel.why, qemu: s.qemuVersion, arch: arch.name },
      },
    );
  }
}
