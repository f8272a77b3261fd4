// Progress for a person: one rewritten line on a TTY, sparse plain lines otherwise; always stderr.
const tty = Boolean(process.stderr.isTTY);
let live = false;

export function note(line: string): void {
  if (live) process.stderr.write('\r\x1b[K');
  live = false;
  process.stderr.write(`${line}\n`);
}

let lastPlain = 0;
/** A status that replaces itself on a TTY; elsewhere printed at most every `everyMs`. */
export function status(line: string, everyMs = 30_000): void {
  if (tty) {
    process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
    live = true;
    return;
  }
  const now = Date.now();
  if (now - lastPlain >= everyMs) {
    lastPlain = now;
    process.stderr.write(`${line}\n`);
  }
}

export function endStatus(): void {
  if (live) process.stderr.write('\r\x1b[K');
  live = false;
  lastPlain = 0;
}
