// Edits of recorded streams that keep them well-formed: what an agent that skipped a report would send.

/** Drops the test point named `name` and renumbers the rest, stage by stage. */
export function withoutReport(lines: string[], name: string): string[] {
  let n = 0;
  return lines
    .filter((l) => !new RegExp(`^(not )?ok \\d+ ${name}( |$)`).test(l))
    .map((l) => {
      if (l.startsWith('# vh agent=start')) n = 0;
      const m = /^((?:not )?ok) \d+ (.*)$/.exec(l);
      return m ? `${m[1]} ${++n} ${m[2]}` : l;
    });
}

/** Adds a test point after the last one, numbered as the agent would. */
export function withExtraReport(lines: string[], text: string): string[] {
  const last = lines.map((l, i) => [l, i] as const).filter(([l]) => /^(not )?ok \d+/.test(l)).at(-1)!;
  const n = Number(/ok (\d+)/.exec(last[0])![1]) + 1;
  return [...lines.slice(0, last[1] + 1), `ok ${n} ${text}`, ...lines.slice(last[1] + 1)];
}
