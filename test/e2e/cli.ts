// Runs the real CLI as a user would: a child process, real QEMU, results in a scratch folder.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type Options } from 'execa';
import { Parser } from 'tap-parser';

export const cli = resolve(import.meta.dirname, '..', '..', 'vfio-handover');

export function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'vh-e2e-'));
}

export function run(args: string[], opts: Options = {}) {
  return execa(cli, args, { reject: false, all: false, ...opts });
}

/** The run folder a results root's `latest` points at. */
export const runDirOf = (dir: string) => join(dir, readlinkSync(join(dir, 'latest')));

/** One `vfio-handover run ARGS --tap` into a fresh results folder, as the whole-suite tests read it. */
export interface SuiteRun {
  tap: string;
  stderr: string;
  exitCode: number | undefined;
  cases: TopLevel[];
  runDir: string;
}

export async function runSuite(args: string[]): Promise<SuiteRun> {
  const dir = scratch();
  const r = await run(['run', ...args, '--tap', '--results', dir]);
  const tap = String(r.stdout);
  return { tap, stderr: String(r.stderr), exitCode: r.exitCode, cases: topLevel(tap), runDir: runDirOf(dir) };
}

export interface TopLevel {
  ok: boolean;
  name: string;
  skip: string | boolean;
}

/** Top-level test points (one per case) of a TAP stream, read by the parser CI uses. */
export function topLevel(tap: string): TopLevel[] {
  const out: TopLevel[] = [];
  const p = new Parser();
  p.on('assert', (a: TopLevel) => out.push(a));
  p.end(tap);
  return out;
}

/** Live QEMU processes whose command line mentions `text` (a run's scratch folder). */
export function qemuPidsMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${e}/status`, 'utf8'))?.[1];
      if (cmd.includes('qemu-system') && cmd.includes(text) && state !== 'Z') pids.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** One case's subtest in a TAP stream, from its `# Subtest:` line to its own test point. */
export const subtestOf = (tap: string, name: string): string => {
  const from = tap.indexOf(`# Subtest: ${name}\n`);
  return tap.slice(from, tap.indexOf(`- ${name}`, from));
};
