// Reads the kernel console for what the agent cannot report itself: panics, oopses, and the
// warning splats (WARNING, lockdep, refcount, UBSAN, KASAN, a BUG that does not panic).
/** The guest is gone: these end the case as an error. */
const crashMarkers = [
  /Kernel panic - not syncing/,
  /\bOops\b/,
  /general protection fault/,
  /Unable to handle kernel/,
  /Attempted to kill init/,
  /kernel BUG at/,
];

/** The headline of a report the kernel printed and carried on after (lockdep and refcount report as WARNING). */
const splatHead = /^(WARNING: |BUG: |UBSAN: )/;
const cutHere = /^-+\[ cut here \]-+$/;
const endTrace = /^---\[ end trace\b/;
/** KASAN, UBSAN and lockdep frame their reports with a rule of '=' signs. */
const rule = /^={20,}$/;
/** How far a splat reaches when it never prints an end marker. */
const maxSplatLines = 60;

export interface Crash {
  line: string;
  excerpt: string;
}

/** One warning report, whole: from its `cut here` (or opening rule, or headline) to its end marker. */
export interface Splat {
  headline: string;
  lines: string[];
}

/** A console line without its CR and printk timestamp, as the markers expect it. */
function bare(line: string): string {
  return line.replace(/\r$/, '').replace(/^\[\s*\d+\.\d+\]\s?/, '');
}

/** A finished console log, read for what the agent could not report itself. */
export class ConsoleWatch {
  private readonly lines: string[];
  private readonly crashAt: number;

  constructor(private readonly text: string) {
    this.lines = text.split('\n').map(bare);
    this.crashAt = this.crashStart();
  }

  crash(): Crash | undefined {
    if (this.crashAt < 0) return undefined;
    const rest = this.lines.slice(this.crashAt);
    return { line: rest[0]!.trim(), excerpt: rest.slice(0, 40).join('\n').trimEnd() };
  }

  /** Every warning splat, whole, in console order. */
  warnings(): Splat[] {
    const out: Splat[] = [];
    for (let i = 0; i < this.lines.length; i++) {
      const head = this.headlineAt(i);
      if (head < 0) continue;
      const end = this.splatEnd(i, head);
      out.push({ headline: this.lines[head]!.trim(), lines: this.lines.slice(i, end + 1) });
      i = end;
    }
    return out;
  }

  /** The last lines, for failures the console did not explain. */
  tail(lines = 25): string {
    return this.text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** The first crash line, or the `BUG:` line just above it that names what crashed. */
  private crashStart(): number {
    const at = this.lines.findIndex((l) => crashMarkers.some((r) => r.test(l)));
    if (at < 0) return at;
    const bug = this.lines.slice(Math.max(0, at - 8), at).findIndex((l) => /\bBUG: /.test(l));
    return bug < 0 ? at : Math.max(0, at - 8) + bug;
  }

  /** Where the splat starting at line i has its headline (i itself, or a few lines below a cut-here or rule), else -1. */
  private headlineAt(i: number): number {
    const l = this.lines[i]!.trim();
    if (splatHead.test(l)) return i;
    if (!cutHere.test(l) && !rule.test(l)) return -1;
    for (let j = i + 1; j < Math.min(i + 4, this.lines.length); j++) if (splatHead.test(this.lines[j]!.trim())) return j;
    return -1;
  }

  /** The splat's last line: its end-trace marker, its closing rule, or just before the next splat. */
  private splatEnd(start: number, head: number): number {
    const framed = rule.test(this.lines[start]!.trim());
    const last = Math.min(start + maxSplatLines, this.lines.length) - 1;
    for (let j = head + 1; j <= last; j++) {
      const l = this.lines[j]!.trim();
      if (endTrace.test(l) || (framed && rule.test(l))) return j;
      if (this.headlineAt(j) >= 0) return j - 1;
    }
    return last;
  }
}
