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

export class ConsoleWatch {
  private text = '';
  private crashAt = -1;
  firstByteAt?: number;

  feed(chunk: string): void {
    if (this.firstByteAt === undefined) this.firstByteAt = Date.now();
    this.text += chunk;
    if (this.crashAt < 0) {
      const lines = this.text.split('\n');
      let offset = 0;
      for (const l of lines) {
        if (crashMarkers.some((r) => r.test(l))) {
          this.crashAt = offset;
          break;
        }
        offset += l.length + 1;
      }
    }
  }

  get crashed(): boolean {
    return this.crashAt >= 0;
  }

  crash(): Crash | undefined {
    if (this.crashAt < 0) return undefined;
    const rest = this.text.slice(this.crashAt).split('\n');
    return { line: rest[0]!.trim(), excerpt: rest.slice(0, 40).join('\n').trimEnd() };
  }

  /** Kernel WARNINGs: not a crash, but every report says how many and the first. */
  warnings(): string[] {
    return this.text.split('\n').filter((l) => /^WARNING: /.test(l.trim()));
  }

  /** The last lines, for failures the console did not explain. */
  tail(lines = 25): string {
    return this.text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  get all(): string {
    return this.text;
  }
}
