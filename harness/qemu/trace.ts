// QEMU's trace log (-trace, -D, -msg timestamp=on), read for when a device did something, as the host saw it.

/** One line of the trace: when (ms since t0, the host's clock), which event, and its arguments as QEMU printed them. */
export interface TraceEvent {
  at: number;
  name: string;
  args: string;
}

/** Every event of the log, in the order QEMU wrote them, from lines `pid@seconds.micros:event args`. */
export function traceEvents(text: string, t0: number): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+@(\d+)\.(\d{6}):(\S+)(?: (.*))?$/.exec(line);
    if (m) out.push({ at: Number(m[1]) * 1000 + Number(m[2]) / 1000 - t0, name: m[3]!, args: m[4] ?? '' });
  }
  return out;
}

/** Times of the traced events, in ms since t0 (epoch ms); only: what the line (`event args`) must match. */
export function traceTimes(text: string, t0: number, only?: RegExp): number[] {
  return traceEvents(text, t0)
    .filter((e) => !only || only.test(`${e.name} ${e.args}`))
    .map((e) => e.at)
    .sort((a, b) => a - b);
}

/** The longest the device went without an event, from its last one before `from` to its first one after `to`; undefined if none after. */
export function longestGap(events: number[], from: number, to: number): number | undefined {
  const before = events.filter((e) => e <= from);
  const after = events.find((e) => e >= to);
  if (after === undefined) return undefined;
  const span = [...(before.length ? [before[before.length - 1]!] : []), ...events.filter((e) => e > from && e < to), after];
  let gap = 0;
  for (let i = 1; i < span.length; i++) gap = Math.max(gap, span[i]! - span[i - 1]!);
  return Math.round(gap);
}
