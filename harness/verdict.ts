// Turns what one VM showed (result channel by stage, console, exit) into a verdict per assertion
// and per case, in four steps: parse each stage's KTAP once with tap-parser, classify the run (did
// QEMU, the guest and the agent hold up), match what was reported against what the case declares,
// then the case status. Pure: the unit tests feed it recorded real streams.
import { constants } from 'node:os';
import { Parser, lineTypes, type FinalResults, type Result } from 'tap-parser';
import { allAssertions, modeOf, qualified, type Case, type RefusedKexec } from '../cases/case.ts';
import { claimOfAssertion, requiredIn, type RequiredClaim } from '../cases/claims.ts';
import { A, AGENT, BAIL, DMA_MARK, HOST, INFO, INFO_PREFIX, infoLine, kexecReboot, marker, type AssertionName } from '../cases/contract.ts';
import { claims, type Claim } from '../kernels/capabilities.ts';
import { warningsAllowlist, type AllowedWarning } from '../kernels/warnings-allowlist.ts';
import { ConsoleWatch, type Splat } from './console-watch.ts';
import { masterClearedAtFreeze, nvmeWrites, parsePages, readsPendingAt, type DeviceWrite, refusedCompletions, strayWrite } from './dma-witness.ts';
import { longestGap, type TraceEvent } from './qemu/trace.ts';

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
  /** A kselftest's own test points, from its KTAP nested under this one (judged here: one not ok fails this one). */
  subtests?: Assertion[];
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
  /** When the device did what the case traces (ms since QEMU started, host clock): completions across a kexec. */
  deviceEvents?: number[];
  /** Every line of QEMU's trace of the device, its time in ms since QEMU started (host clock). */
  deviceTrace?: TraceEvent[];
  /** Set when the runner gave up waiting (and killed QEMU itself). */
  timeout?: { phase: string; seconds: number; vcpus?: string };
  timings?: Record<string, number>;
}

export interface JudgeOptions {
  /** Claims whose SKIP counts as a failure (`--require`). */
  require?: RequiredClaim[];
  /** Warning splats that do not fail a case; kernels/warnings-allowlist.ts when not given. */
  allowWarnings?: AllowedWarning[];
}

// parse: each stage's KTAP read once by tap-parser

/** One test point as tap-parser read it, with its line and arrival time. */
interface Point extends Assertion {
  /** tap-parser's test point id; 0 when the line had none. */
  id: number;
  line: string;
  at: number;
  /** The KTAP nested (indented) above this point: a kselftest the agent ran. */
  nested?: Nested;
}

/** A nested KTAP stream, as tap-parser read it. */
interface Nested {
  asserts: Assertion[];
  planned?: number;
  count: number;
}

/** A subtest's lines, without their indentation: a stream of its own, read by a tap-parser of its own. */
function parseNested(lines: string[]): Nested {
  const out: Nested = { asserts: [], count: 0 };
  const p = new Parser();
  p.on('assert', (a: Result) => out.asserts.push(assertion(toPoint(a, undefined))));
  p.on('complete', (f: FinalResults) => {
    out.count = f.count;
    if (f.plan.end !== null) out.planned = f.plan.end;
  });
  for (const l of lines) p.write(`${l}\n`);
  p.end();
  return out;
}

/** Indented lines (and their `# Subtest:` opener) belong to the next test point: each point's, and the top-level rest. */
function splitNested<T extends { line: string }>(entries: T[]): { top: T[]; nestedOf: Map<T, string[]> } {
  const top: T[] = [];
  const nestedOf = new Map<T, string[]>();
  let pending: string[] = [];
  for (const e of entries) {
    if (e.line.startsWith('    ')) pending.push(e.line.slice(4));
    else if (e.line.startsWith('# Subtest:')) pending = [];
    else {
      top.push(e);
      if (/^(?:not )?ok\b/.test(e.line) && pending.length) nestedOf.set(e, pending);
      if (/^(?:not )?ok\b/.test(e.line)) pending = [];
    }
  }
  return { top, nestedOf };
}

interface Parsed {
  asserts: Point[];
  /** The plan's end, as tap-parser read it. */
  planned?: number;
  /** Test points tap-parser counted. */
  count: number;
  /** A line that looks like a test point but tap-parser did not read as one (malformed, or after the plan). */
  unread?: string;
  info: Record<string, string>;
  agent: string[];
  /** The agent's `Bail out!`: the stage's stream ends there (a kexec the kernel refused). */
  bailout?: { reason: string; line: string; at: number };
}

export function parseResultChannel(lines: string[], times: number[] = []): Parsed {
  const out: Parsed = { asserts: [], count: 0, info: {}, agent: [] };
  const all = lines.map((line, i) => ({ line, at: times[i] ?? 0 }));
  // Bail out! ends the stage's KTAP: tap-parser stops at one before the plan and ignores one after it, so it is
  // read here; the agent's own lines after it (its done marker) are still read, a test point is malformed.
  const bail = all.findIndex((l) => /^Bail out!/.test(l.line));
  if (bail >= 0) out.bailout = { reason: all[bail]!.line.replace(/^Bail out!\s*/, ''), line: all[bail]!.line, at: all[bail]!.at };
  const { top: ordered, nestedOf } = splitNested(bail < 0 ? all : all.filter((_, i) => i !== bail));
  const looksLikePoint = ordered.filter((l) => /^(?:not )?ok\b/.test(l.line));
  const points = looksLikePoint.filter((l) => lineTypes.testPoint.test(`${l.line}\n`));
  const p = new Parser();
  // tap-parser keeps test points in order, so the nth assert is the nth test point line.
  p.on('assert', (a: Result) => {
    const from = points[out.asserts.length];
    const nested = from && nestedOf.get(from);
    out.asserts.push({ ...toPoint(a, from), ...(nested ? { nested: parseNested(nested) } : {}) });
  });
  p.on('comment', (c: string) => readComment(c, out));
  p.on('complete', (f: FinalResults) => {
    out.count = f.count;
    if (f.plan.end !== null) out.planned = f.plan.end;
  });
  for (const l of ordered) p.write(`${l.line}\n`);
  p.end();
  const afterBail = bail < 0 ? undefined : all.slice(bail + 1).find((l) => looksLikePoint.includes(l));
  out.unread = afterBail?.line ?? looksLikePoint.find((l) => !points.includes(l))?.line ?? points[out.asserts.length]?.line;
  return out;
}

function toPoint(a: Result, from: { line: string; at: number } | undefined): Point {
  return {
    name: a.name,
    ok: a.ok,
    ...(a.skip ? { skip: typeof a.skip === 'string' ? a.skip : 'skipped' } : {}),
    ...(a.diag ? { diag: a.diag as Record<string, unknown> } : {}),
    id: a.id,
    line: from?.line ?? '',
    at: from?.at ?? 0,
  };
}

function readComment(c: string, out: Parsed): void {
  const line = c.trim();
  const m = line.startsWith(INFO_PREFIX) ? /^(\w+)=(.*)$/.exec(line.slice(INFO_PREFIX.length)) : null;
  if (!m) return;
  if (m[1] === INFO.agent) out.agent.push(m[2]!);
  else if (m[1] !== INFO.dma_mark) out.info[m[1]!] = m[2]!; // timing marks are read from the lines with their arrival times
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
    const start = line.startsWith(`${marker('start')} `) ? / stage=(\d+)/.exec(line) : null;
    if (start) segs.push({ stage: Number(start[1]), lines: [], times: [] });
    const cur = segs.at(-1);
    if (cur) {
      cur.lines.push(line);
      cur.times.push(times[i] ?? 0);
    }
  });
  return segs;
}

type StageReport = Segment & Parsed;

function parseStages(obs: Observation): StageReport[] {
  return splitStages(obs.resultLines, obs.resultTimes).map((seg) => ({ ...seg, ...parseResultChannel(seg.lines, seg.times) }));
}

/** The first report of each stage number (a repeated stage is classified as an error). */
function stageReport(stages: StageReport[], n: number): StageReport | undefined {
  return stages.find((s) => s.stage === n);
}

function timeOf(seg: Segment | undefined, is: (line: string) => boolean): number | undefined {
  if (!seg) return undefined;
  const i = seg.lines.findIndex(is);
  return i < 0 ? undefined : seg.times[i];
}

function stageTimings(segs: Segment[], into: Record<string, number>, deviceEvents?: number[]): void {
  for (const seg of segs) {
    const up = /uptime_ms=(\d+)/.exec(seg.lines[0] ?? '')?.[1];
    if (up) into[`stage${seg.stage}_boot_to_init_ms`] = Number(up);
    const next = segs.find((s) => s.stage === seg.stage + 1);
    const kexecAt = timeOf(seg, (l) => l.startsWith(`${marker('kexec')} `));
    if (next && kexecAt !== undefined && next.times[0] !== undefined) into[`kexec${seg.stage}_ms`] = next.times[0] - kexecAt;
    const last = timeOf(seg, (l) => l === infoLine(INFO.dma_mark, DMA_MARK.last));
    const first = timeOf(next, (l) => l === infoLine(INFO.dma_mark, DMA_MARK.first));
    if (last !== undefined && first !== undefined) into[`blackout${seg.stage}_ms`] = first - last;
    // The device's side: the longest it went without completing anything, from before the kexec to after the next /init.
    const gap = deviceEvents && kexecAt !== undefined && next?.times[0] !== undefined ? longestGap(deviceEvents, kexecAt, next.times[0]) : undefined;
    if (gap !== undefined) into[`device_gap${seg.stage}_ms`] = gap;
  }
}

function collectInfo(c: Case, stages: StageReport[], splats: JudgedSplat[]): Record<string, string> {
  const info: Record<string, string> = {};
  c.stages.forEach((_, i) => {
    for (const [k, v] of Object.entries(stageReport(stages, i + 1)?.info ?? {})) info[c.stages.length > 1 ? `stage${i + 1}/${k}` : k] = v;
  });
  if (splats.length) info.kernel_warnings = `${splats.length} (first: ${splats[0]!.splat.headline})`;
  const allowed = splats.filter((s) => s.allowed);
  if (allowed.length) info.kernel_warnings_allowed = allowed.map((s) => `${s.splat.headline} (${s.allowed!.reason})`).join('; ');
  return info;
}

function collectTimings(obs: Observation, stages: StageReport[], info: Record<string, string>): Record<string, number> {
  const timings = { ...(obs.timings ?? {}) };
  // The agent's own measurements (kexec_file_load_ms, dma_ms) are timings too, as numbers.
  for (const [k, v] of Object.entries(info)) {
    if (/_ms$/.test(k) && /^\d+$/.test(v)) timings[k.replace('/', '_')] = Number(v);
  }
  stageTimings(stages, timings, obs.deviceEvents);
  return timings;
}

// classify: whether QEMU, the guest and the agent held up, so the assertions mean anything

interface Broken {
  status: 'error' | 'miss';
  phase: string;
  reason: string;
  excerpt: string;
}

function classify(obs: Observation, stages: StageReport[], watch: ConsoleWatch): Broken | undefined {
  const agent = stages.flatMap((s) => s.agent);
  const error = (phase: string, reason: string, excerpt = watch.tail()): Broken => ({ status: 'error', phase, reason, excerpt });
  return (
    qemuNeverStarted(obs, agent) ??
    guestCrashed(watch, agent, error) ??
    agentCrashed(agent, error) ??
    timedOut(obs, error) ??
    qemuDied(obs, agent, watch) ??
    bailedOut(stages, error) ??
    brokenKexec(stages, error) ??
    brokenStream(stages, error) ??
    unfinished(agent, error)
  );
}

type ErrorAt = (phase: string, reason: string, excerpt?: string) => Broken;

function qemuNeverStarted(obs: Observation, agent: string[]): Broken | undefined {
  if (obs.console !== '' || agent.length > 0 || !obs.exit) return undefined;
  const why = lastLine(obs.exit.stderr) || `exit ${obs.exit.code ?? obs.exit.signal}`;
  return { status: 'miss', phase: 'qemu-start', reason: `QEMU failed to start: ${why}`, excerpt: obs.exit.stderr.trim() };
}

function guestCrashed(watch: ConsoleWatch, agent: string[], error: ErrorAt): Broken | undefined {
  const crash = watch.crash();
  return crash && error(agent.length ? 'case' : 'boot', `guest crashed: ${crash.line}`, crash.excerpt);
}

function agentCrashed(agent: string[], error: ErrorAt): Broken | undefined {
  const crash = agent.find((a) => opens(a, AGENT.crash) || opens(a, AGENT.error));
  return crash === undefined ? undefined : error('case', `agent ${crash}`);
}

/** The runner killed QEMU itself: the guest went silent, so it is the guest's error, in the phase it stalled. */
function timedOut(obs: Observation, error: ErrorAt): Broken | undefined {
  if (!obs.timeout) return undefined;
  const where = obs.timeout.vcpus ? ` (${obs.timeout.vcpus})` : '';
  return error(obs.timeout.phase, `no progress for ${obs.timeout.seconds} s in phase ${obs.timeout.phase}${where}`);
}

/** QEMU went away before the agent finished and nobody asked it to: nothing is known about the kernel. */
function qemuDied(obs: Observation, agent: string[], watch: ConsoleWatch): Broken | undefined {
  if (!obs.exit || agent.some((a) => opens(a, AGENT.done))) return undefined;
  const { code, signal, stderr } = obs.exit;
  if (!signal && code === 0) return undefined;
  const said = lastLine(stderr);
  const how = signal ? `QEMU was killed by ${signal}` : `QEMU exited with status ${code}`;
  const phase = opens(agent.at(-1), AGENT.kexec) ? 'kexec' : agent.length ? 'case' : 'boot';
  return { status: 'miss', phase, reason: `${how}${said ? `: ${said}` : ''}`, excerpt: `${watch.tail()}\n--- QEMU stderr ---\n${stderr.trim()}` };
}

function brokenKexec(stages: StageReport[], error: ErrorAt): Broken | undefined {
  const repeated = stages.find((s, i) => stages.findIndex((o) => o.stage === s.stage) !== i);
  if (repeated) return error('kexec', `stage ${repeated.stage} started twice: the guest rebooted instead of kexec-ing`);
  for (const s of stages) {
    const lost = lostLines(s);
    if (lost) return error('kexec', `the kexec after stage ${s.stage} lost ${lost} line(s) of its result channel`);
    // A kexec the kernel refused is the agent's Bail out!, judged as the stage's kexec_reboot, not a lost stage.
    if (lost !== undefined && !stageReport(stages, s.stage + 1) && !refusedKexec(s)) {
      return error('kexec', `stage ${s.stage + 1} never started after the kexec of stage ${s.stage}`);
    }
  }
  return undefined;
}

/** Lines the agent wrote in a stage that never reached us: the kexec transition lost them. */
function lostLines(seg: Segment): number | undefined {
  const i = seg.lines.findIndex((l) => l.startsWith(`${marker('kexec')} `));
  if (i < 0) return undefined;
  const wrote = Number(/lines=(\d+)/.exec(seg.lines[i]!)?.[1]);
  return Number.isFinite(wrote) ? wrote - (i + 1) : undefined;
}

/** A Bail out! for anything but a refused kexec: the agent gave up on the stage. */
function bailedOut(stages: StageReport[], error: ErrorAt): Broken | undefined {
  const s = stages.find((st) => st.bailout && !refusedKexec(st));
  return s && error('case', `the agent bailed out of stage ${s.stage}: ${s.bailout!.reason}`);
}

/** The agent's `Bail out! kexec refused: <errname>`: reboot(LINUX_REBOOT_CMD_KEXEC) returned, so the stage failed with
 * the kernel's reason, as its own kexec_reboot assertion; ok, with that reason, only into a stage that allows it. */
function refusedKexec(s: StageReport | undefined, allowed?: RefusedKexec): Assertion | undefined {
  const why = s?.bailout?.reason;
  const prefix = `${BAIL.kexec_refused}: `;
  if (!why?.startsWith(prefix)) return undefined;
  const errname = why.slice(prefix.length).trim();
  const errno = (constants.errno as Record<string, number | undefined>)[errname];
  const known = errno === undefined ? {} : { errno };
  if (allowed) {
    const diag = { expected: 'reboot(LINUX_REBOOT_CMD_KEXEC) does not return, or the kernel refuses it', seen: `${allowed.said}: ${errname}`, ...known, errname, phase: 'kexec' };
    return { name: kexecReboot, ok: true, diag };
  }
  const seen = `the kernel refused the kexec: ${errname}`;
  return { name: kexecReboot, ok: false, diag: { expected: 'reboot(LINUX_REBOOT_CMD_KEXEC) does not return', seen, ...known, errname, phase: 'kexec' } };
}

function brokenStream(stages: StageReport[], error: ErrorAt): Broken | undefined {
  for (const s of stages) {
    const fault = numberingFault(s) ?? duplicateName(s);
    if (fault) return error('case', fault);
  }
  return undefined;
}

/** Test point ids must count up by one: a jump means lines were lost, anything else is malformed. */
function numberingFault(s: StageReport): string | undefined {
  let expect = 1;
  for (const p of s.asserts) {
    if (p.id > expect) return `the result channel lost test point(s) ${p.id - 1 > expect ? `${expect}-${p.id - 1}` : expect} of stage ${s.stage}`;
    if (p.id !== expect) return `malformed KTAP from the agent in stage ${s.stage}: "${p.line}"`;
    expect++;
  }
  return s.unread === undefined ? undefined : `malformed KTAP from the agent in stage ${s.stage}: "${s.unread}"`;
}

/** Two reports of one name: which one holds is unknowable, so the agent is broken. */
function duplicateName(s: StageReport): string | undefined {
  const dup = s.asserts.find((a, i) => s.asserts.findIndex((b) => b.name === a.name) !== i);
  return dup && `the agent reported ${dup.name} twice in stage ${s.stage}: "${dup.line}"`;
}

function unfinished(agent: string[], error: ErrorAt): Broken | undefined {
  if (agent.some((a) => opens(a, AGENT.done))) return undefined;
  return agent.length ? error('case', 'the result channel ended before the agent finished') : error('boot', 'the agent never started');
}

/** Whether a `# vh agent=` value opens with this marker word. */
function opens(value: string | undefined, word: string): boolean {
  return value === word || Boolean(value?.startsWith(`${word} `));
}

function lastLine(text: string): string | undefined {
  return text.trim().split('\n').pop() || undefined;
}

// match: every declared assertion against what its stage reported

/** An assertion of one stage, still under its own name, with whether the agent reported it. */
interface Matched extends Assertion {
  reported: boolean;
}

function matchStages(c: Case, stages: StageReport[], opts: JudgeOptions): { assertions: Assertion[]; reported: Set<string> } {
  const byStage = c.stages.map((stage, i) => {
    const report = stageReport(stages, i + 1);
    const intoNext = c.stages[i + 1]?.refusable;
    const refusedInto = stage.refusable && !report ? refusedKexec(stageReport(stages, i), stage.refusable) : undefined;
    if (refusedInto) return neverRan(stage.assertions, stage.refusable!, refusedInto, i + 1);
    return matchAssertions(stage.assertions, report, i + 1, intoNext);
  });
  const judged = applyRequire(c, regressions(byStage), requiredIn(opts.require ?? [], modeOf(c)));
  const assertions: Assertion[] = [];
  const reported = new Set<string>();
  judged.forEach((stage, i) =>
    stage.forEach(({ reported: r, ...a }) => {
      const q = { ...a, name: qualified(c, i + 1, a.name) };
      if (r) reported.add(q.name);
      assertions.push(q);
    }),
  );
  return { assertions, reported };
}

/** A stage the kernel refused to kexec into, where that is a correct outcome: what the refusal satisfies reads ok, saying why
 * (never silently); anything else it declares stays not ok. */
function neverRan(expected: string[], r: RefusedKexec, refused: Assertion, stage: number): Matched[] {
  const seen = `no such kernel ran: ${String(refused.diag?.seen)}`;
  return expected.map((n) =>
    (r.satisfies as string[]).includes(n)
      ? { name: n, ok: true, diag: { expected: `reported ok by the agent in stage ${stage}, or the kexec into that stage refused`, seen, phase: 'kexec' }, reported: false }
      : { name: n, ok: false, diag: { expected: 'reported by the agent', seen: `stage ${stage} never started: the kexec was refused`, phase: 'blocked' }, reported: false },
  );
}

/** The case's own list decides what counts: one missing or unknown is a failure, never a silent pass. A kexec out of this stage
 * that the next stage allows to be refused adds what the agent reports after the refusal. */
function matchAssertions(declared: string[], report: StageReport | undefined, stage: number, intoNext?: RefusedKexec): Matched[] {
  const refused = refusedKexec(report, intoNext);
  const accepted = refused?.ok && intoNext ? intoNext.then : [];
  const expected = [...declared, ...accepted];
  const got = report?.asserts ?? [];
  const durations = stepDurations(report);
  const missing = report ? 'missing' : `stage ${stage} never started`;
  const out: Matched[] = expected.map((n) => {
    const i = got.findIndex((g) => g.name === n);
    // A stage that never started blocked its steps, as a failed prerequisite blocks the agent's ("blocked").
    if (i < 0) return { name: n, ok: false, diag: { expected: 'reported by the agent', seen: missing, phase: report ? 'report' : 'blocked' }, reported: false };
    return { ...assertion(got[i]!), durationMs: durations[i], reported: true };
  });
  got.forEach((g, i) => {
    if (expected.includes(g.name)) return;
    const a = g.ok ? { name: g.name, ok: false, diag: { expected: 'an assertion the case declares', seen: 'unknown', phase: 'report' } } : assertion(g);
    out.push({ ...a, durationMs: durations[i], reported: true });
  });
  if (!refused) return out;
  const before = got.filter((g) => !accepted.includes(g.name as AssertionName)).at(-1)?.at ?? report!.times[0] ?? 0;
  // What the agent checked once the kexec was refused starts with the first line after its kexec marker.
  const marked = report!.lines.findIndex((l) => l.startsWith(`${marker('kexec')} `));
  const returned = accepted.length && marked >= 0 ? (report!.times[marked + 1] ?? report!.bailout!.at) : report!.bailout!.at;
  const at = out.findIndex((a) => accepted.includes(a.name as AssertionName));
  if (at >= 0 && out[at]!.durationMs !== undefined) out[at] = { ...out[at]!, durationMs: out[at]!.durationMs! - (returned - before) };
  // The kexec_reboot goes before what the agent checked after it.
  out.splice(at < 0 ? out.length : at, 0, { ...refused, durationMs: returned - before, reported: true });
  return out;
}

function assertion(p: Point): Assertion {
  const a = { name: p.name, ok: p.ok, ...(p.skip ? { skip: p.skip } : {}), ...(p.diag ? { diag: p.diag } : {}) };
  return p.nested ? judgeNested(a, p.nested) : a;
}

/** A kselftest's point is ok only when its own KTAP agrees: every nested point ok (or SKIP), as many as it planned.
 * Its not ok (exit status) and SKIP (the test's reason) stand as the agent reported them. */
function judgeNested(a: Assertion, n: Nested): Assertion {
  const judged = { ...a, subtests: n.asserts };
  if (!a.ok || a.skip) return judged;
  const bad = n.asserts.filter((s) => !s.ok);
  const fail = (expected: string, seen: string) => ({ ...judged, ok: false, diag: { expected, seen, phase: 'kselftest' } });
  if (bad.length) return fail('every test of its KTAP ok or SKIP', `exit status 0, but ${bad.length} not ok: ${bad.map((s) => s.name).join(', ')}`);
  if (n.count === 0) return fail('its KTAP reports at least one test', 'exit status 0 and no test point');
  if (n.planned !== n.count) return fail(`as many tests as its plan (${n.planned ?? 'none'})`, `${n.count} reported`);
  return judged;
}

/** Each test point's time: from the previous test point (or the stage start) to its own line. */
function stepDurations(report: StageReport | undefined): number[] {
  let prev = report?.times[0] ?? 0;
  return (report?.asserts ?? []).map((p) => {
    const d = p.at - prev;
    prev = p.at;
    return d;
  });
}

/** The claim a SKIP names (`vfio-preserve: ...`), if any. */
export function claimOf(skip: string | undefined): Claim | undefined {
  return (Object.keys(claims) as Claim[]).find((cl) => skip?.startsWith(`${cl}:`));
}

/** A claim's SKIP in a stage after an earlier stage proved that assertion ok is a regression, not a missing capability;
 * a SKIP that follows an earlier stage's refusal of the same claim is still a SKIP. */
function regressions(byStage: Matched[][]): Matched[][] {
  return byStage.map((stage, k) =>
    stage.map((a) => {
      const claim = claimOf(a.skip);
      const earlier = byStage.slice(0, k);
      if (!claim || earlier.flat().some((e) => claimOf(e.skip) === claim)) return a;
      const provenIn = earlier.findIndex((st) => st.some((e) => e.name === a.name && e.ok && !e.skip));
      if (provenIn < 0) return a;
      const { skip, ...rest } = a;
      return {
        ...rest,
        ok: false,
        diag: { expected: `${claim}, as in stage ${provenIn + 1}, where ${a.name} was ok`, seen: `a SKIP in stage ${k + 1}: ${skip}`, phase: 'regression' },
      };
    }),
  );
}

/** A SKIP is a failure under --require C when the kernel refused C, or when the assertion stands for C (cases/claims.ts). */
function applyRequire(c: Case, byStage: Matched[][], require: Claim[]): Matched[][] {
  return byStage.map((stage, k) =>
    stage.map((a) => {
      const claim = a.skip === undefined ? undefined : require.find((cl) => claimOf(a.skip) === cl || claimOfAssertion(c, k + 1, a.name) === cl);
      if (!claim) return a;
      const { skip, ...rest } = a;
      const named = modeOf(c) === 'iommu' && claim !== 'iommu' ? `${claim}@iommu` : claim;
      return { ...rest, ok: false, diag: { expected: `the kernel claims ${claim} (--require ${named})`, seen: skip, phase: 'require' } };
    }),
  );
}

/** A stage whose plan disagrees with what it reported lost or invented test points. */
function planChecks(c: Case, stages: StageReport[]): Assertion[] {
  return c.stages.flatMap((_, i) => {
    const s = stageReport(stages, i + 1);
    if (s?.planned === undefined || s.planned === s.count) return [];
    return [{ name: qualified(c, i + 1, 'plan'), ok: false, diag: { expected: s.planned, seen: s.count, phase: 'report' } }];
  });
}

// kernel warnings: a splat fails the case unless the allowlist says why it may

interface JudgedSplat {
  splat: Splat;
  allowed?: AllowedWarning;
}

function judgeSplats(splats: Splat[], allow: AllowedWarning[]): JudgedSplat[] {
  return splats.map((splat) => ({ splat, allowed: allow.find((w) => w.pattern.test(splat.lines.join('\n'))) }));
}

function warningCheck(splats: JudgedSplat[]): Assertion[] {
  const bad = splats.filter((s) => !s.allowed).map((s) => s.splat);
  if (bad.length === 0) return [];
  return [
    {
      name: 'kernel_warnings',
      ok: false,
      diag: {
        expected: 'no WARNING, lockdep, refcount, UBSAN, KASAN or BUG report on the console (kernels/warnings-allowlist.ts lists allowed ones)',
        seen: `${bad.length} splat(s): ${bad.map((s) => s.headline).join('; ')}`,
        phase: 'console',
        excerpt: bad.map((s) => s.lines.join('\n')).join('\n\n'),
      },
    },
  ];
}

// the device's own record: what QEMU saw it write across each kexec (cases with dmaWitness)

/** One kexec as the host saw it: from the device taking stage k's last command before its kexec line (the line reaches
 * the host a little after the reboot call began), through stage k+1's start, to its own kexec line (or the end). */
interface KexecWindow {
  stage: number;
  from: number;
  kexecLine: number;
  nextStart: number;
  until: number;
}

function kexecWindows(stages: StageReport[], trace: TraceEvent[]): KexecWindow[] {
  return stages.flatMap((s) => {
    const kexecLine = timeOf(s, (l) => l.startsWith(`${marker('kexec')} `));
    const next = stageReport(stages, s.stage + 1);
    if (kexecLine === undefined || !next) return [];
    const lastTaken = trace.filter((e) => e.name === 'pci_nvme_io_cmd' && e.at <= kexecLine).at(-1)?.at ?? kexecLine;
    const until = timeOf(next, (l) => l.startsWith(`${marker('kexec')} `)) ?? Infinity;
    return [{ stage: s.stage + 1, from: Math.min(lastTaken, kexecLine), kexecLine, nextStart: next.times[0] ?? kexecLine, until }];
  });
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The reads in flight at the reboot call and where they landed (inside the kexec window: before the next /init), and what was checked. */
function describeWrites(across: DeviceWrite[], w: KexecWindow): string {
  const reads = across.filter((x) => x.what.startsWith('the data'));
  const inFlight = reads.filter((x) => x.taken <= w.kexecLine);
  const inWindow = inFlight.filter((x) => x.at < w.nextStart).length;
  return `${inFlight.length} reads in flight at the reboot call, ${inWindow} landed inside the kexec window, ${inFlight.length - inWindow} after the next /init; ${reads.length} reads and ${across.length - reads.length} completions checked`;
}

/** device_writes_preserved of the stage after each kexec: every write of the device from the reboot call on, by QEMU's
 * trace, into a page the stage before preserved; info says how many landed and how many inside the kexec window. */
function witnessChecks(c: Case, stages: StageReport[], obs: Observation): { assertions: Assertion[]; info: Record<string, string> } {
  const assertions: Assertion[] = [];
  const info: Record<string, string> = {};
  if (!c.dmaWitness) return { assertions, info };
  const writes = obs.deviceTrace ? nvmeWrites(obs.deviceTrace) : undefined;
  const expected = "every write of the device across the kexec (QEMU's trace: each read's data, each completion) lands in a page the previous stage preserved";
  for (const w of kexecWindows(stages, obs.deviceTrace ?? [])) {
    const name = qualified(c, w.stage, HOST.device_writes_preserved); // as hostAssertions(c) names it
    const preserved = parsePages(stageReport(stages, w.stage - 1)?.info[INFO.preserved_pages]);
    if (!writes || !preserved) {
      const seen = writes ? `stage ${w.stage - 1} reported no ${INFO.preserved_pages}` : "no QEMU trace of the device";
      assertions.push({ name, ok: false, diag: { expected, seen, phase: 'blocked' } });
      continue;
    }
    const across = writes.filter((x) => x.at >= w.from && x.at < w.until);
    info[qualified(c, w.stage, 'device_writes')] = describeWrites(across, w);
    const stray = strayWrite(across, preserved);
    if (!stray) {
      assertions.push({ name, ok: true });
      continue;
    }
    const after = stray.w.at < w.kexecLine ? 'as the kexec began' : `${Math.round(stray.w.at - w.kexecLine)} ms after the reboot call`;
    const when = `${after}${stray.w.at < w.nextStart ? ', before the next /init' : ''}`;
    const seen = `${stray.w.what} landed at ${hex(stray.w.pa)} (page ${hex(stray.page)}, ${stray.w.len} bytes) ${when}: no page stage ${w.stage - 1} preserved`;
    assertions.push({ name, ok: false, diag: { expected, seen, phase: 'device' } });
  }
  return { assertions, info };
}

/** no_device_write_after_owner_death (cases with ownerDeathWitness): by QEMU's trace, reads the owner queued were still pending
 * when the agent said it kills the owner, and the device wrote nothing after the line saying the owner was reaped (it
 * reaches the host after the reap: a write later than it is later than the owner's death). */
function ownerDeathChecks(c: Case, stages: StageReport[], obs: Observation): { assertions: Assertion[]; info: Record<string, string> } {
  const info: Record<string, string> = {};
  if (!c.ownerDeathWitness) return { assertions: [], info };
  const name = qualified(c, 1, HOST.no_device_write_after_owner_death); // as hostAssertions(c) names it
  const expected =
    "reads the owner queued still pending at its SIGKILL, and no write of the device (QEMU's trace: each read's data, each completion) after the owner was reaped: the dead owner holds no page";
  const s = stageReport(stages, 1);
  // The kernel could not preserve the device: the agent's SKIP, with its reason, stands for this one too.
  const skip = s?.asserts.find((a) => a.name === A.preserve_device_fd)?.skip;
  if (skip) return { assertions: [{ name, ok: true, skip }], info };
  const killed = timeOf(s, (l) => l.startsWith(infoLine(INFO.owner_killed, '')));
  const reaped = timeOf(s, (l) => l.startsWith(infoLine(INFO.owner_reaped, '')));
  if (!obs.deviceTrace || killed === undefined || reaped === undefined) {
    const seen = obs.deviceTrace ? `the agent reported no ${killed === undefined ? INFO.owner_killed : INFO.owner_reaped} line` : 'no QEMU trace of the device';
    return { assertions: [{ name, ok: false, diag: { expected, seen, phase: 'blocked' } }], info };
  }
  const writes = nvmeWrites(obs.deviceTrace);
  const pending = readsPendingAt(obs.deviceTrace, killed);
  const dying = writes.filter((w) => w.at > killed && w.at <= reaped).length;
  const after = writes.filter((w) => w.at > reaped);
  info.owner_death_writes = `${pending} reads pending at the kill line, ${dying} writes between it and the reaped line, ${after.length} after it; ${writes.length} writes checked`;
  if (!pending) return { assertions: [{ name, ok: false, diag: { expected, seen: 'no read pending at the kill line: the probe is blind', phase: 'device' } }], info };
  const first = after[0];
  if (!first) return { assertions: [{ name, ok: true }], info };
  const seen = `${first.what} landed at ${hex(first.pa)} (page ${hex(first.pa - (first.pa % 4096))}, ${first.len} bytes) ${Math.round(first.at - reaped)} ms after the owner was reaped; ${after.length} writes after the reap`;
  return { assertions: [{ name, ok: false, diag: { expected, seen, phase: 'device' } }], info };
}

/** What the host saw when the case's in-flight assertion failed: the old kernel clearing bus mastering (or resetting the
 * device) during the reboot, before the next kernel enumerated PCI, and the completions the device could not write. */
function explainDropped(c: Case, stages: StageReport[], obs: Observation, assertions: Assertion[]): Assertion[] {
  if (!c.dmaWitness || !obs.deviceTrace) return assertions;
  const windows = kexecWindows(stages, obs.deviceTrace);
  return assertions.map((a) => {
    const w = windows.find((k) => a.name === qualified(c, k.stage, c.dmaWitness!.dropped));
    const cleared = w && !a.ok && !a.skip ? masterClearedAtFreeze(obs.deviceTrace!, w.from, w.nextStart) : undefined;
    if (!w || !cleared) return a;
    const refused = refusedCompletions(obs.deviceTrace!, w.from, w.until);
    const why = `the in-flight reads were dropped: bus master cleared at freeze (QEMU: ${cleared} once the reads were issued, before the next kernel enumerated PCI; completion writes refused: ${refused})`;
    return { ...a, diag: { ...a.diag, seen: `${String(a.diag?.seen ?? '')}; ${why}` } };
  });
}

// status: pass only when every declared assertion is ok

function caseStatus(assertions: Assertion[]): { status: Status; reason?: string } {
  const failed = assertions.filter((a) => !a.ok);
  if (failed.length) return { status: 'fail', reason: `${failed.length} assertion(s) failed: ${failed.map((a) => a.name).join(', ')}` };
  const reasons = skipReasons(assertions);
  return reasons.length ? { status: 'skip', reason: reasons.join('; ') } : { status: 'pass' };
}

/** Every distinct SKIP reason; a later stage repeating an earlier refusal (`... in stage N`) is the same reason. */
function skipReasons(assertions: Assertion[]): string[] {
  return [...new Set(assertions.flatMap((a) => (a.skip ? [a.skip.replace(/ in stage \d+$/, '')] : [])))];
}

/** One case's verdict from what its VM showed. */
export function judge(c: Case, obs: Observation, opts: JudgeOptions = {}): CaseResult {
  const stages = parseStages(obs);
  const watch = new ConsoleWatch(obs.console);
  const splats = judgeSplats(watch.warnings(), opts.allowWarnings ?? warningsAllowlist);
  const info = collectInfo(c, stages, splats);
  const base = { case: c.name, info, timings: collectTimings(obs, stages, info) };
  const broken = classify(obs, stages, watch);
  const matched = matchStages(c, stages, opts);
  const assertions = explainDropped(c, stages, obs, matched.assertions);
  const witness = witnessChecks(c, stages, obs);
  const death = ownerDeathChecks(c, stages, obs);
  Object.assign(base.info, witness.info, death.info);
  // A broken run says nothing about the assertions never reached: list only what the agent reported, and any stray write
  // the device was seen making (it may be why the next kernel broke).
  const strays = [...witness.assertions, ...death.assertions].filter((a) => a.diag?.phase === 'device');
  if (broken) return { ...base, ...broken, assertions: [...assertions.filter((a) => matched.reported.has(a.name)), ...strays] };
  const all = [...assertions, ...witness.assertions, ...death.assertions, ...planChecks(c, stages), ...warningCheck(splats)];
  return { ...base, ...caseStatus(all), assertions: all };
}

export function skipped(c: Case, reason: string): CaseResult {
  const assertions = allAssertions(c).map((name) => ({ name, ok: true, skip: reason }));
  return { case: c.name, status: 'skip', reason, assertions, info: {}, timings: {} };
}
