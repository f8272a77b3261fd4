// Child processes run to an end: every failure becomes one line, the command, how it ended and what
// it said, written here and nowhere else.
import { basename } from 'node:path';
import { execa, type Options, type Result } from 'execa';
import { InfraError, UsageError } from './errors.ts';

export interface ProcOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** What failed, as a person reads it ("kernel build failed"); default "<command> failed". */
  failure?: string;
  /** The command as the message names it (default: the program's file name). */
  shown?: string;
  /** The failure is the user's input, not the machinery's: a UsageError (exit 2). */
  usage?: boolean;
  /** The output line that explains a failure, where the general pick would miss it. */
  reason?: (output: string) => string | undefined;
  /** Each output line (stdout and stderr) as it arrives; only a tail is kept for the message. */
  onLine?: (line: string) => void;
  /** Stops the command (SIGKILL) at the first line this accepts: the answer is in. */
  until?: (line: string) => boolean;
  timeoutMs?: number;
  /** The command owns the user's terminal (an interactive shell): nothing is captured. */
  interactive?: boolean;
}

/** How a command ended, for callers that judge it themselves. */
export interface Outcome {
  ok: boolean;
  exitCode?: number;
  stdout: string;
  /** stdout and stderr interleaved (the last lines only when streamed). */
  output: string;
  timedOut: boolean;
  /** `until` accepted a line and the command was stopped. */
  stopped: boolean;
  /** What ended it ("exit 2", "killed by SIGKILL", "could not start: ..."); empty when ok. */
  how: string;
  /** The output line that explains a failure; empty when ok. */
  line: string;
  /** `how: line`, for a caller that reports rather than throws. */
  why: string;
}

const tailLines = 40;

/** The line a person needs from a failed command's output: the first that reads as an error, else the first. */
export function meaningfulLine(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter((l) => l && !/^W: |\bwarning:/i.test(l));
  return lines.find((l) => /\berror\b|^E: |fatal|cannot|not found|failed/i.test(l)) ?? lines[0] ?? '';
}

/** Runs to the end and reports how it went; never throws for the command's own failure. */
export async function capture(file: string, args: readonly string[], opts: ProcOptions = {}): Promise<Outcome> {
  const stop = new AbortController();
  const streamed = Boolean(opts.onLine || opts.until);
  const tail: string[] = [];
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    reject: false,
    ...(opts.interactive ? { stdio: 'inherit' } : { stdin: 'ignore', all: true }),
    ...(streamed ? { buffer: false } : {}),
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    cancelSignal: stop.signal,
    killSignal: 'SIGKILL',
  } satisfies Options);
  if (streamed) {
    eachLine(child.all!, (line) => {
      tail.push(line);
      if (tail.length > tailLines) tail.shift();
      opts.onLine?.(line);
      if (opts.until?.(line)) stop.abort();
    });
  }
  const r = await child;
  return outcome(r, streamed ? tail.join('\n') : String(r.all ?? ''), opts);
}

/** Runs to the end; any failure throws one line (UsageError with `usage`, else InfraError). */
export async function run(file: string, args: readonly string[], opts: ProcOptions = {}): Promise<Outcome> {
  const r = await capture(file, args, opts);
  if (!r.ok) throw failure(opts.shown ?? basename(file), opts, r);
  return r;
}

/** `a | b | c` without a shell: the stage named in a failure is the first that failed of its own accord. */
export async function pipeline(stages: [string, string[]][], opts: ProcOptions = {}): Promise<void> {
  const o = { cwd: opts.cwd, env: opts.env, buffer: { stdout: false } } as const;
  const [[file, args], ...rest] = stages as [[string, string[]], ...[string, string[]][]];
  let chain = execa(file, args, o);
  for (const [f, a] of rest) chain = chain.pipe(f, a, o) as unknown as typeof chain;
  try {
    await chain;
  } catch (e) {
    const all = piped(e as Result);
    const cause = all.find((r) => r.failed && !r.signal) ?? (e as Result);
    const stage = cause.command.split(' ')[0] ?? file;
    throw failure(basename(stage), opts, outcome(cause, String(cause.stderr ?? ''), opts));
  }
}

/** Every result of a pipeline, source first. */
function piped(r: Result): Result[] {
  return [...(r.pipedFrom as Result[]).flatMap(piped), r];
}

function outcome(r: Result, output: string, opts: ProcOptions): Outcome {
  const stopped = Boolean(r.isCanceled);
  const ok = !r.failed || stopped;
  const how = r.timedOut
    ? `timed out after ${(opts.timeoutMs ?? 0) / 1000} s`
    : r.exitCode === undefined && !r.signal
      ? `could not start: ${r.originalMessage ?? r.shortMessage}`
      : r.signal
        ? `killed by ${r.signal}`
        : `exit ${r.exitCode}`;
  const line = ok ? '' : (opts.reason?.(output) ?? meaningfulLine(output));
  const ended = ok ? '' : how;
  return { ok, exitCode: r.exitCode, stdout: String(r.stdout ?? ''), output, timedOut: Boolean(r.timedOut), stopped, how: ended, line, why: line ? `${ended}: ${line}` : ended };
}

/** The one place a failed command becomes an error: "<failure> (<command>, <how>): <line>". */
function failure(shown: string, opts: ProcOptions, o: Pick<Outcome, 'how' | 'line'>): Error {
  const head = opts.failure ? `${opts.failure} (${shown}, ${o.how})` : `${shown} failed (${o.how})`;
  const text = o.line ? `${head}: ${o.line}` : head;
  return opts.usage ? new UsageError(text) : new InfraError(text);
}

function eachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) onLine(l.replace(/\r$/, ''));
  });
  stream.on('end', () => partial && onLine(partial));
}
