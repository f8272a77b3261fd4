// QEMU's trace log (-trace, -D, -msg timestamp=on), read for when a device did something, as the host saw it.

/** Times of the traced events, in ms since t0 (epoch ms), from lines `pid@seconds.micros:event args`; only: a substring the line must hold. */
export function traceTimes(text: string, t0: number, only?: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+@(\d+)\.(\d{6}):\S+/.exec(line);
    if (!m || (only && !line.includes(only))) continue;
    out.push(Number(m[1]) * 1000 + Number(m[2]) / 1000 - t0);
  }
  return out.sort((a, b) => a - b);
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
