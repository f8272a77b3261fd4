// Turns what one VM showed (result channel by stage, console, exit) into a verdict per assertion
// and per case. Pure: the unit tests feed it recorded real streams.
import { Parser } from 'tap-parser';
import { qualified, type Case } from '../cases/case.ts';
import type { Claim } from '../kernels/capabilities.ts';
import { ConsoleWatch } from './console-watch.ts';

/** pass/fail/skip: what the kernel did. error: the guest broke (panic, oops, agent crash, silence).
 * miss: the VM never ran or QEMU died under it, so nothing is known about the kernel. */
export type Status = 'pass' | 'fail' | 'skip' | 'error' | 'miss';

export interface Assertion {
  name: string;
  ok: boolean;
  /** Reason, when the kernel lacked what this assertion needs. */
  skip?: string;
  diag?: Record<string, unknown>;
  /** From the previous line of the stage to this one, as the host saw them arrive. */
  durationMs?: number;
}

export interface CaseResult {
  case: string;
  status: Status;
  /** One line: why it failed, errored or skipped. */
  reason?: string;
  /** Where an error happened: qemu-start, boot, case, kexec, poweroff. */
  phase?: string;
  /** Console lines that explain an error. */
  excerpt?: string;
  assertions: Assertion[];
  /** `# vh key=value` facts the agent reported (timings, addresses, seeds), stage-qualified. */
  info: Record<string, string>;
  timings: Record<string, number>;
}

export interface Observation {
  resultLines: string[];
  /** Arrival of each result line, in ms since QEMU started. */
  resultTimes?: number[];
  console: string;
  exit?: { code: number | null; signal: string | null; stderr: string };
  /** Set when the runner gave up waiting. */
  timeout?: { phase: string; seconds: number; vcpus?: string };
  timings?: Record<string, number>;
}

export interface JudgeOptions {
  /** Claims whose SKIP counts as a failure (`--require`). */
  require?: Claim[];
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
    else if (m[1] === 'dma_mark') return; // timing marks: read from the raw lines with their arrival times
    else out.info[m[1]!] = m[2]!;
  });
  for (const l of planLast(lines)) p.write(`${l}\n`);
  p.end();
  return out;
}

/** The plan goes out before the reboot syscall; a refused kexec's test point comes after it and belongs to the stage. */
function planLast(lines: string[]): string[] {
  const at = lines.findIndex((l) => /^1\.\.\d+$/.test(l));
  if (at < 0 || !lines.slice(at + 1).some((l) => /^not ok \d+ (?:- )?kexec_reboot\b/.test(l))) return lines;
  return [...lines.slice(0, at), ...lines.slice(at + 1), lines[at]!];
}

interface Segment {
  stage: number;
  lines: string[];
  times: number[];
}

/** The channel is one stream across kexecs; each boot's agent opens its stage with a start line. */
export function splitStages(lines: string[], times: number[] = []): Segment[] {
  const segs: Segment[] = [];
  lines.forEach((line, i) => {
    const start = /^# vh agent=start stage=(\d+)/.exec(line);
    if (start) segs.push({ stage: Number(start[1]), lines: [], times: [] });
    const cur = segs.at(-1);
    if (cur) {
      cur.lines.push(line);
      cur.times.push(times[i] ?? 0);
    }
  });
  return segs;
}

function timeOf(seg: Segment | undefined, pattern: RegExp): number | undefined {
  if (!seg) return undefined;
  const i = seg.lines.findIndex((l) => pattern.test(l));
  return i < 0 ? undefined : seg.times[i];
}

function stageTimings(segs: Segment[], into: Record<string, number>): void {
  for (const seg of segs) {
    const up = /uptime_ms=(\d+)/.exec(seg.lines[0] ?? '')?.[1];
    if (up) into[`stage${seg.stage}_boot_to_init_ms`] = Number(up);
    const next = segs.find((s) => s.stage === seg.stage + 1);
    const kexecAt = timeOf(seg, /^# vh agent=kexec /);
    if (next && kexecAt !== undefined && next.times[0] !== undefined) into[`kexec${seg.stage}_ms`] = next.times[0] - kexecAt;
    const last = timeOf(seg, /^# vh dma_mark=last$/);
    const first = timeOf(next, /^# vh dma_mark=first$/);
    if (last !== undefined && first !== undefined) into[`blackout${seg.stage}_ms`] = first - last;
  }
}

/** Test point numbers must count up by one: a jump means lines were lost, anything else is malformed. */
function badNumbering(lines: string[]): { line: string; gap?: string } | undefined {
  let expect = 1;
  for (const l of lines) {
    if (!/^(not )?ok\b/.test(l)) continue;
    const m = /^(?:not )?ok (\d+)(?: |$)/.exec(l);
    const n = m ? Number(m[1]) : NaN;
    if (n > expect) return { line: l, gap: n - 1 > expect ? `${expect}-${n - 1}` : `${expect}` };
    if (n !== expect) return { line: l };
    expect++;
  }
  return undefined;
}

/** Each test point's time: from the previous test point (or the stage start) to its own line. */
function stepDurations(seg: Segment): Map<string, number> {
  const out = new Map<string, number>();
  let prev = seg.times[0] ?? 0;
  seg.lines.forEach((l, i) => {
    const m = /^(?:not )?ok \d+ (?:- )?(\S+)/.exec(l);
    if (!m) return;
    out.set(m[1]!, (seg.times[i] ?? prev) - prev);
    prev = seg.times[i] ?? prev;
  });
  return out;
}

function kexecRefused(seg: Segment): boolean {
  return seg.lines.some((l) => /^not ok \d+ (?:- )?kexec_reboot\b/.test(l));
}

/** Lines the agent wrote in a stage that never reached us: the kexec transition lost them. */
function lostLines(seg: Segment): number | undefined {
  const i = seg.lines.findIndex((l) => /^# vh agent=kexec /.test(l));
  if (i < 0) return undefined;
  const wrote = Number(/lines=(\d+)/.exec(seg.lines[i]!)?.[1]);
  return Number.isFinite(wrote) ? wrote - (i + 1) : undefined;
}

export function judge(c: Case, obs: Observation, opts: JudgeOptions = {}): CaseResult {
  const segs = splitStages(obs.resultLines, obs.resultTimes);
  const parsedByStage = c.stages.map((_, i) => {
    const seg = segs.find((s) => s.stage === i + 1);
    return seg ? parseResultChannel(seg.lines) : undefined;
  });
  const agent = segs.flatMap((s) => parseResultChannel(s.lines).agent);
  const watch = new ConsoleWatch(obs.console);
  const info: Record<string, string> = {};
  parsedByStage.forEach((p, i) => {
    for (const [k, v] of Object.entries(p?.info ?? {})) info[c.stages.length > 1 ? `stage${i + 1}/${k}` : k] = v;
  });
  const warned = watch.warnings();
  if (warned.length) info.kernel_warnings = `${warned.length} (first: ${warned[0]!.trim()})`;
  const timings = { ...(obs.timings ?? {}) };
  // The agent's own measurements (kexec_file_load_ms, dma_ms) are timings too, as numbers.
  for (const [k, v] of Object.entries(info)) {
    if (/_ms$/.test(k) && /^\d+$/.test(v)) timings[k.replace('/', '_')] = Number(v);
  }
  stageTimings(segs, timings);
  const base = { case: c.name, info, timings };
  const reported: Assertion[] = [];
  const assertions = c.stages.flatMap((stage, i) => {
    const got = parsedByStage[i]?.asserts ?? [];
    const seg = segs.find((sg) => sg.stage === i + 1);
    const durations = seg ? stepDurations(seg) : new Map<string, number>();
    const missing = parsedByStage[i] ? 'missing' : `stage ${i + 1} never started`;
    return matchAssertions(stage.assertions, got, (n) => qualified(c, i + 1, n), reported, missing).map((a) => {
      const d = durations.get(a.name.replace(/^stage\d+\//, ''));
      return d === undefined ? a : { ...a, durationMs: d };
    });
  });
  applyRequire(assertions, opts.require ?? []);
  // An error says nothing about the assertions never reached: list only what the agent reported.
  const error = (phase: string, reason: string, excerpt = watch.tail()): CaseResult => ({
    ...base,
    status: 'error',
    phase,
    reason,
    excerpt,
    assertions: assertions.filter((a) => reported.some((x) => x.name === a.name)),
  });

  const qemuSaid = obs.exit?.stderr.trim().split('\n').pop();
  if (obs.console === '' && agent.length === 0 && obs.exit) {
    const why = qemuSaid || `exit ${obs.exit.code ?? obs.exit.signal}`;
    return { ...error('qemu-start', `QEMU failed to start: ${why}`, obs.exit.stderr.trim()), status: 'miss' };
  }
  const crash = watch.crash();
  if (crash) return error(agent.length ? 'case' : 'boot', `guest crashed: ${crash.line}`, crash.excerpt);
  const agentCrash = agent.find((a) => a.startsWith('crash') || a.startsWith('error'));
  if (agentCrash) return error('case', `agent ${agentCrash}`);
  if (obs.timeout) {
    const where = obs.timeout.vcpus ? ` (${obs.timeout.vcpus})` : '';
    return error(obs.timeout.phase, `no progress for ${obs.timeout.seconds} s in phase ${obs.timeout.phase}${where}`);
  }
  const repeated = segs.find((seg, i) => segs.findIndex((o) => o.stage === seg.stage) !== i);
  if (repeated) return error('kexec', `stage ${repeated.stage} started twice: the guest rebooted instead of kexec-ing`);
  for (const seg of segs) {
    const lost = lostLines(seg);
    if (lost) return error('kexec', `the kexec after stage ${seg.stage} lost ${lost} line(s) of its result channel`);
    // A kexec the kernel refused is the agent's own not-ok test point, not a lost stage.
    if (lost !== undefined && !segs.some((s) => s.stage === seg.stage + 1) && !kexecRefused(seg)) {
      return error('kexec', `stage ${seg.stage + 1} never started after the kexec of stage ${seg.stage}`);
    }
  }
  for (const seg of segs) {
    const bad = badNumbering(seg.lines);
    if (bad?.gap) return error('case', `the result channel lost test point(s) ${bad.gap} of stage ${seg.stage}`);
    if (bad) return error('case', `malformed KTAP from the agent in stage ${seg.stage}: "${bad.line}"`);
  }
  if (!agent.some((a) => a.startsWith('done'))) {
    const phase = agent.length ? 'case' : 'boot';
    if (obs.exit && (obs.exit.code !== 0 || obs.exit.signal)) {
      const how = `QEMU died (${obs.exit.code ?? obs.exit.signal})${qemuSaid ? `: ${qemuSaid}` : ''}`;
      return { ...error(phase, how, `${watch.tail()}\n--- QEMU stderr ---\n${obs.exit.stderr.trim()}`), status: 'miss' };
    }
    return error(phase, phase === 'boot' ? 'the agent never started' : 'the result channel ended before the agent finished');
  }
  parsedByStage.forEach((p, i) => {
    // The plan goes out before the reboot syscall, so a refused kexec's test point comes after it.
    const counted = p?.asserts.filter((a) => a.name !== 'kexec_reboot').length;
    if (p?.planned !== undefined && p.planned !== counted) {
      assertions.push({ name: qualified(c, i + 1, 'plan'), ok: false, diag: { expected: p.planned, seen: p.asserts.length, phase: 'report' } });
    }
  });
  const failed = assertions.filter((a) => !a.ok);
  if (failed.length > 0) return { ...base, status: 'fail', reason: `${failed.length} assertion(s) failed: ${failed.map((a) => a.name).join(', ')}`, assertions };
  if (assertions.every((a) => a.skip)) return { ...base, status: 'skip', reason: assertions[0]?.skip ?? 'nothing ran', assertions };
  const claimSkip = assertions.find((a) => a.skip && (c.claims ?? []).some((cl) => a.skip!.startsWith(`${cl}:`)));
  if (claimSkip) return { ...base, status: 'skip', reason: claimSkip.skip, assertions };
  return { ...base, status: 'pass', assertions };
}

/** The case's own list decides what counts: one missing or unknown is a failure, never a silent pass. */
function matchAssertions(
  expected: string[],
  got: Assertion[],
  name: (n: string) => string,
  reported: Assertion[],
  missing: string,
): Assertion[] {
  const out: Assertion[] = [];
  for (const n of expected) {
    const a = got.find((g) => g.name === n);
    const r = a ? { ...a, name: name(n) } : { name: name(n), ok: false, diag: { expected: 'reported by the agent', seen: missing, phase: 'report' } };
    if (a) reported.push(r);
    out.push(r);
  }
  for (const a of got) {
    if (expected.includes(a.name)) continue;
    const r = a.ok
      ? { name: name(a.name), ok: false, diag: { expected: 'an assertion the case declares', seen: 'unknown', phase: 'report' } }
      : { ...a, name: name(a.name) };
    reported.push(r);
    out.push(r);
  }
  return out;
}

function applyRequire(assertions: Assertion[], require: Claim[]): void {
  for (const a of assertions) {
    const claim = require.find((cl) => a.skip?.startsWith(`${cl}:`));
    if (!claim) continue;
    a.diag = { expected: `the kernel claims ${claim} (--require ${claim})`, seen: a.skip, phase: 'require' };
    a.ok = false;
    delete a.skip;
  }
}

export function skipped(c: Case, reason: string): CaseResult {
  const assertions = c.stages.flatMap((s, i) => s.assertions.map((n) => ({ name: qualified(c, i + 1, n), ok: true, skip: reason })));
  return { case: c.name, status: 'skip', reason, assertions, info: {}, timings: {} };
}
