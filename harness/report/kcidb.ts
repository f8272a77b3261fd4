// KCIDB schema v5 JSON: one checkout, one build, a test per case, per assertion and per timing.
import type { CaseResult, Status } from '../verdict.ts';

export interface KcidbContext {
  runId: string;
  startedAt: string;
  kernel: { spec: string; version: string; key: string; release?: string; configHash?: string };
  environment: { accel: string; accelWhy: string; qemu: string; arch: string };
  git?: { commit?: string; tree?: string };
}

const origin = 'vfio_handover';
const statusOf: Record<Status, string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', error: 'ERROR', miss: 'MISS' };
const idSafe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');

export function kcidbJson(ctx: KcidbContext, results: CaseResult[]): object {
  const checkoutId = `${origin}:${ctx.runId}`;
  const buildId = `${origin}:${ctx.runId}.${idSafe(ctx.kernel.key)}`;
  const environment = {
    comment: `QEMU ${ctx.environment.arch} ${ctx.environment.accel.toUpperCase()}`,
    misc: {
      accelerator: ctx.environment.accel,
      accelerator_reason: ctx.environment.accelWhy,
      qemu_version: ctx.environment.qemu,
      kernel_release: ctx.kernel.release,
      config_hash: ctx.kernel.configHash,
    },
  };
  const test = (path: string, status: string, extra: Record<string, unknown>) => ({
    id: `${origin}:${ctx.runId}.${idSafe(path)}`,
    origin,
    build_id: buildId,
    path: `vfio_handover.${path}`,
    status,
    start_time: ctx.startedAt,
    environment,
    ...extra,
  });
  const tests = results.flatMap((r) => {
    const casePath = idSafe(r.case);
    const caseTest = test(casePath, statusOf[r.status], {
      duration: (r.timings.wall_ms ?? 0) / 1000,
      ...(r.reason || r.excerpt ? { log_excerpt: [r.reason, r.excerpt].filter(Boolean).join('\n').slice(0, 16384) } : {}),
      output_files: [
        { name: 'console.log', url: `file:${r.case}.console.log` },
        { name: 'result.log', url: `file:${r.case}.result.log` },
      ],
      misc: { phase: r.phase, info: r.info },
    });
    const assertions = r.assertions.map((a) =>
      test(`${casePath}.${a.name.split('/').map(idSafe).join('.')}`, a.skip ? 'SKIP' : a.ok ? 'PASS' : 'FAIL', {
        ...(a.durationMs !== undefined ? { duration: a.durationMs / 1000 } : {}),
        ...(a.skip ? { log_excerpt: a.skip } : !a.ok && a.diag ? { log_excerpt: JSON.stringify(a.diag).slice(0, 16384) } : {}),
      }),
    );
    const timings = Object.entries(r.timings).map(([k, v]) =>
      test(`${casePath}.timing.${idSafe(k)}`, 'DONE', { number: { value: v, unit: 'ms' } }),
    );
    return [caseTest, ...assertions, ...timings];
  });
  return {
    version: { major: 5, minor: 3 },
    checkouts: [
      {
        id: checkoutId,
        origin,
        valid: true,
        start_time: ctx.startedAt,
        ...(ctx.git?.commit ? { git_commit_hash: ctx.git.commit } : {}),
        ...(ctx.git?.tree ? { tree_name: ctx.git.tree } : {}),
        misc: { kernel_spec: ctx.kernel.spec, source_version: ctx.kernel.version },
      },
    ],
    builds: [
      {
        id: buildId,
        origin,
        checkout_id: checkoutId,
        architecture: ctx.environment.arch,
        config_name: ctx.kernel.key,
        valid: true,
        start_time: ctx.startedAt,
        misc: { kernel_release: ctx.kernel.release, config_hash: ctx.kernel.configHash },
      },
    ],
    tests,
  };
}
