// Kernel warning splats a case may show and still pass. Every other WARNING, lockdep, refcount,
// UBSAN or KASAN report, or BUG that does not panic, fails the case (assertion kernel_warnings).

export interface AllowedWarning {
  /** Tested against the splat's lines, joined by newlines (use the m flag for ^ and $ per line). */
  pattern: RegExp;
  /** Why this splat says nothing about the kernel under test; shown in every report that allows it. */
  reason: string;
}

/** Empty on purpose: a splat is allowed only with a reason someone wrote down here. */
export const warningsAllowlist: AllowedWarning[] = [];
