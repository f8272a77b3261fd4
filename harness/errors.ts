// Failures the CLI turns into one line and an exit code, never a stack trace.

/** Bad usage or input: exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The machinery failed (build, QEMU, host tools): exit 3. */
export class InfraError extends Error {
  override name = 'InfraError';
}

export const ExitCode = { ok: 0, failed: 1, usage: 2, infra: 3, bisectSkip: 125 } as const;
