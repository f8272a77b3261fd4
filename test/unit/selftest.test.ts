// A control counts as caught only when its own guard's assertion failed for its own reason.
import { describe, expect, it } from 'vitest';
import { controls, judgeControl } from '../../harness/selftest.ts';
import type { CaseResult } from '../../harness/verdict.ts';

const mlock = controls.find((c) => c.cheat === 'mlock')!;
const result = (ok: boolean, seen: string): CaseResult => ({
  case: 'noiommu-dma',
  status: ok ? 'pass' : 'fail',
  assertions: [{ name: 'sandbox_no_refusals', ok, diag: ok ? undefined : { seen } }],
  info: {},
  timings: {},
});

describe('judgeControl', () => {
  it('is caught when the guard names the cheat', () => {
    expect(judgeControl(mlock, result(false, 'seccomp refused mlock x1'))).toEqual({
      caught: true,
      detail: 'caught by seccomp: seccomp refused mlock x1',
    });
  });

  it('is not caught when the guard stayed quiet', () => {
    expect(judgeControl(mlock, result(true, '')).caught).toBe(false);
  });

  it('is not caught when the assertion failed for another reason', () => {
    const v = judgeControl(mlock, result(false, 'seccomp refused mprotect x1'));
    expect(v.caught).toBe(false);
    expect(v.detail).toMatch(/not for this cheat/);
  });

  it('is not caught when the run itself broke', () => {
    const v = judgeControl(mlock, { ...result(false, ''), status: 'error', reason: 'guest crashed: Kernel panic' });
    expect(v).toEqual({ caught: false, detail: 'the run itself failed: guest crashed: Kernel panic' });
  });
});
