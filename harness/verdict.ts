// Turns what one VM showed (result channel, console, exit) into a verdict per assertion and per case.
// Pure: the unit tests feed it recorded real streams.
import { Parser } from 'tap-parser';
import type { Case } from '../cases/case.ts';
import { ConsoleWatch } from './console-watch.ts';

export type Status = 'pass' | 'fail' | 'skip' | 'error';

export interface Assertion {
  name: string;
  ok: boolean;
  /** Reason, when the kernel lacked what this assertion needs. */
  skip?: string;
  diag?: Record<string, unknown>;
}

export interface CaseResult {
  case: string;
  status: Status;
  /** One line: why it failed, errored or skipped. */
  reason?: string;
  /** Where an error happened: qemu-start, boot, case, poweroff. */
  phase?: string;
  /** Console lines that explain an error. */
  excerpt?: string;
  assertions: Assertion[];
  /** `# vh key=value` facts the agent reported (timings, addresses, seeds). */
  info: Record<string, string>;
  timings: Record<string, number>;
}

export interface Observation {
  resultLines: string[];
  console: string;
  exit?: { code: number | null; signal: string | null; stderr: string };
  /** Set when the runner gave up waiting. */
  timeout?: { phase: string; seconds: number };
  timings?: Record<string, number>;
}

interface Parsed {
  asserts: Assertion[];
  planned?: number;
  info: Record<string, string>;
  agent: string[];
}

export function parseResultChannel(lines: string[]): Parsed {
  const out: Parsed = { asserts: [], info: {}, agent: [] };
  const p = new Parser();
  p.on('assert', (a: { ok: boolean; name: string; skip: string | boolean; diag: Record<string, unknown> | null }) => {
    out.asserts.push({
      name: a.name,
      ok: a.ok,
      ...(a.skip ? { skip: typeof a.skip === 'string' ? a.skip : 'skipped' } : {}),
      ...(a.diag ? { diag: a.diag } : {}),
    });
  });
  p.on('plan', (pl: { end: number }) => (out.planned = pl.end));
  p.on('comment', (c: string) => {
    const m = /^# vh (\w+)=(.*)$/.exec(c.trim());
    if (!m) return;
    if (m[1] === 'agent') out.agent.push(m[2]!);
    else out.info[m[1]!] = m[2]!;
  });
  for (const l of lines) p.write(`${l}\n`);
  p.end();
  return out;
}

export function judge(c: Case, obs: Observation): CaseResult {
  const parsed = parseResultChannel(obs.resultLines);
  const watch = new ConsoleWatch();
  watch.feed(obs.console);
  const base = { case: c.name, info: parsed.info, timings: obs.timings ?? {} };
  const assertions = matchAssertions(c, parsed);
  // An error says nothing about the assertions never reached: list only what the agent reported.
  const error = (phase: string, reason: string, excerpt = watch.tail()): CaseResult => ({
    ...base,
    status: 'error',
    phase,
    reason,
    excerpt,
    assertions: assertions.filter((a) => parsed.asserts.includes(a)),
  });

  if (obs.console === '' && parsed.agent.length === 0 && obs.exit) {
    const why = obs.exit.stderr.trim().split('\n').pop() || `exit ${obs.exit.code ?? obs.exit.signal}`;
    return error('qemu-start', `QEMU failed to start: ${why}`, obs.exit.stderr.trim());
  }
  const crash = watch.crash();
  if (crash) return error(parsed.agent.length ? 'case' : 'boot', `guest crashed: ${crash.line}`, crash.excerpt);
  const agentCrash = parsed.agent.find((a) => a.startsWith('crash') || a.startsWith('error'));
  if (agentCrash) return error('case', `agent ${agentCrash}`);
  if (obs.timeout) return error(obs.timeout.phase, `no progress for ${obs.timeout.seconds} s in phase ${obs.timeout.phase}`);
  if (!parsed.agent.some((a) => a.startsWith('done'))) {
    const phase = parsed.agent.length ? 'case' : 'boot';
    const what = phase === 'boot' ? 'the agent never started' : 'the result channel ended before the agent finished';
    const qemuSaid = obs.exit?.stderr.trim().split('\n').pop();
    const died = obs.exit && (obs.exit.code !== 0 || obs.exit.signal) ? `; QEMU exited ${obs.exit.code ?? obs.exit.signal}${qemuSaid ? `: ${qemuSaid}` : ''}` : '';
    return error(phase, `${what}${died}`, qemuSaid ? `${watch.tail()}\n--- QEMU stderr ---\n${obs.exit!.stderr.trim()}` : undefined);
  }
  if (parsed.planned !== undefined && parsed.planned !== parsed.asserts.length) {
    assertions.push({ name: 'plan', ok: false, diag: { expected: parsed.planned, seen: parsed.asserts.length, phase: 'report' } });
  }
  const failed = assertions.filter((a) => !a.ok);
  if (failed.length > 0) return { ...base, status: 'fail', reason: `${failed.length} assertion(s) failed: ${failed.map((a) => a.name).join(', ')}`, assertions };
  if (assertions.every((a) => a.skip)) return { ...base, status: 'skip', reason: assertions[0]?.skip ?? 'nothing ran', assertions };
  return { ...base, status: 'pass', assertions };
}

/** The case's own list decides what counts: one missing or unknown is a failure, never a silent pass. */
function matchAssertions(c: Case, parsed: Parsed): Assertion[] {
  const out: Assertion[] = [];
  for (const name of c.assertions) {
    const got = parsed.asserts.find((a) => a.name === name);
    out.push(got ?? { name, ok: false, diag: { expected: 'reported by the agent', seen: 'missing', phase: 'report' } });
  }
  for (const a of parsed.asserts) {
    if (!c.assertions.includes(a.name)) out.push({ name: a.name, ok: false, diag: { expected: 'an assertion the case declares', seen: 'unknown', phase: 'report' } });
  }
  return out;
}

export function skipped(c: Case, reason: string): CaseResult {
  return { case: c.name, status: 'skip', reason, assertions: c.assertions.map((name) => ({ name, ok: true, skip: reason })), info: {}, timings: {} };
}
