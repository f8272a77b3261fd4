// KCIDB I/O v5.3 JSON (kcidb-io's schema, exactly): one checkout, one build, a test per case, per assertion and per timing.
import type { Assertion, CaseResult, Status } from '../verdict.ts';

export interface KcidbContext {
  runId: string;
  startedAt: string;
  kernel: { spec: string; version: string; key: string; release?: string; configHash?: string };
  environment: { accel: string; accelWhy: string; qemu: string; arch: string };
  git?: { commit?: string; tree?: string };
}

type Obj = Record<string, unknown>;

const origin = 'vfio_handover';
const statusOf: Record<Status, string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', error: 'ERROR', miss: 'MISS' };
/** The schema's limit for every log_excerpt, in characters. */
const excerptMax = 16384;

/** One node of a dot-separated KCIDB test path: [A-Za-z0-9_-]+, so no dots of its own. */
const pathPart = (s: string) => s.replace(/[^A-Za-z0-9_-]/g, '_') || '_';

/** A log_excerpt the schema takes: no NUL, at most excerptMax characters (code points, not UTF-16 units). */
const excerpt = (s: string) => ({ log_excerpt: Array.from(s.replace(/\0/g, '')).slice(0, excerptMax).join('') });

const seconds = (ms: number | undefined) => (ms === undefined ? {} : { duration: ms / 1000 });

function environment(ctx: KcidbContext): Obj {
  return {
    comment: `QEMU ${ctx.environment.arch} ${ctx.environment.accel.toUpperCase()}`,
    misc: {
      accelerator: ctx.environment.accel,
      accelerator_reason: ctx.environment.accelWhy,
      qemu_version: ctx.environment.qemu,
      kernel_release: ctx.kernel.release,
      config_hash: ctx.kernel.configHash,
    },
  };
}

function checkout(ctx: KcidbContext, id: string): Obj {
  return {
    id,
    origin,
    valid: true,
    start_time: ctx.startedAt,
    // The schema takes only a full 40-hex commit hash.
    ...(ctx.git?.commit && /^[0-9a-f]{40}$/.test(ctx.git.commit) ? { git_commit_hash: ctx.git.commit } : {}),
    ...(ctx.git?.tree ? { tree_name: ctx.git.tree } : {}),
    misc: { kernel_spec: ctx.kernel.spec, source_version: ctx.kernel.version },
  };
}

function build(ctx: KcidbContext, id: string, checkoutId: string): Obj {
  return {
    id,
    origin,
    checkout_id: checkoutId,
    architecture: ctx.environment.arch,
    config_name: ctx.kernel.key,
    // v5 replaced `valid` with `status`: the kernel we booted is a build that succeeded.
    status: 'PASS',
    start_time: ctx.startedAt,
    misc: { kernel_release: ctx.kernel.release, config_hash: ctx.kernel.configHash },
  };
}

function caseFields(r: CaseResult): Obj {
  const why = [r.reason, r.excerpt].filter(Boolean).join('\n');
  return {
    status: statusOf[r.status],
    ...seconds(r.timings.wall_ms),
    ...(why ? excerpt(why) : {}),
    output_files: [
      { name: 'console.log', url: `file:${r.case}.console.log` },
      { name: 'result.log', url: `file:${r.case}.result.log` },
    ],
    misc: { phase: r.phase, info: r.info },
  };
}

function assertionFields(a: Assertion): Obj {
  const why = a.skip ?? (!a.ok && a.diag ? JSON.stringify(a.diag) : undefined);
  return { status: a.skip ? 'SKIP' : a.ok ? 'PASS' : 'FAIL', ...seconds(a.durationMs), ...(why ? excerpt(why) : {}) };
}

/** A timing is a measurement, not a verdict: DONE with its number (the schema takes finite numbers only). */
function timingFields(ms: number): Obj {
  return Number.isFinite(ms) ? { status: 'DONE', number: { value: ms, unit: 'ms' } } : { status: 'DONE' };
}

export function kcidbJson(ctx: KcidbContext, results: CaseResult[]): object {
  const checkoutId = `${origin}:${ctx.runId}`;
  const buildId = `${origin}:${ctx.runId}.${ctx.kernel.key}`;
  const env = environment(ctx);
  const test = (path: string[], fields: Obj) => {
    const dotted = path.map(pathPart).join('.');
    return { id: `${origin}:${ctx.runId}.${dotted}`, origin, build_id: buildId, path: `${origin}.${dotted}`, start_time: ctx.startedAt, environment: env, ...fields };
  };
  const tests = results.flatMap((r) => [
    test([r.case], caseFields(r)),
    ...r.assertions.flatMap((a) => [
      test([r.case, ...a.name.split('/')], assertionFields(a)),
      ...(a.subtests ?? []).map((s) => test([r.case, ...a.name.split('/'), s.name], assertionFields(s))),
    ]),
    ...Object.entries(r.timings).map(([k, v]) => test([r.case, 'timing', k], timingFields(v))),
  ]);
  return {
    version: { major: 5, minor: 3 },
    checkouts: [checkout(ctx, checkoutId)],
    builds: [build(ctx, buildId, checkoutId)],
    tests,
  };
}
