// Reads the kernel console for what the agent cannot report itself: panics, oopses, BUGs.
const crashMarkers = [
  /Kernel panic - not syncing/,
  /\bOops\b/,
  /\bBUG: /,
  /general protection fault/,
  /Unable to handle kernel/,
  /Attempted to kill init/,
  /kernel BUG at/,
];

export interface Crash {
  line: string;
  excerpt: string;
}

/** A finished console log, read for what the agent could not report itself. */
export class ConsoleWatch {
  private readonly lines: string[];
  private readonly crashAt: number;

  constructor(private readonly text: string) {
    this.lines = text.split('\n');
    this.crashAt = this.lines.findIndex((l) => crashMarkers.some((r) => r.test(l)));
  }

  crash(): Crash | undefined {
    if (this.crashAt < 0) return undefined;
    const rest = this.lines.slice(this.crashAt);
    return { line: rest[0]!.trim(), excerpt: rest.slice(0, 40).join('\n').trimEnd() };
  }

  /** Kernel WARNINGs: not a crash, but every report says how many and the first. */
  warnings(): string[] {
    return this.lines.filter((l) => /^WARNING: /.test(l.trim()));
  }

  /** The last lines, for failures the console did not explain. */
  tail(lines = 25): string {
    return this.text.trimEnd().split('\n').slice(-lines).join('\n');
  }
}
