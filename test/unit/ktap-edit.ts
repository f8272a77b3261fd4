// Edits of recorded streams that keep them well-formed: what an agent that skipped a report would send.
import { INFO, INFO_PREFIX, infoLine, marker } from '../../cases/contract.ts';

/** A contract spelling inside a RegExp, matched literally. */
const lit = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `# vh agent=start stage=N`: a stage's first line, with its stage number. */
const stageStart = new RegExp(`^${lit(marker('start'))} stage=(\\d+)`);
/** `# vh agent=kexec ... lines=N ...`: a stage's last line, with the count of lines it wrote. */
const stageKexec = new RegExp(`^(${lit(marker('kexec'))} .*lines=)(\\d+)(.*)$`);

/** Drops the test point named `name` and renumbers the rest, stage by stage. */
export function withoutReport(lines: string[], name: string): string[] {
  let n = 0;
  return lines
    .filter((l) => !new RegExp(`^(not )?ok \\d+ ${name}( |$)`).test(l))
    .map((l) => {
      if (l.startsWith(marker('start'))) n = 0;
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

/** Turns the test point `name` of stage `stage` into a SKIP with `reason`, as the agent reports a capability it
 * found lacking (after its `# vh lacks=` line); with `rest`, every later test point of that stage too, and the
 * facts those steps would have reported are gone. */
export function withSkip(lines: string[], name: string, reason: string, { stage = 1, rest = false } = {}): string[] {
  let cur = 0;
  let state: 'before' | 'skipping' | 'after' = 'before';
  let converting = false;
  let inYaml = false;
  return lines.flatMap((l) => {
    const start = stageStart.exec(l);
    if (start) [cur, state, converting] = [Number(start[1]), 'before', false];
    if (cur !== stage || start) return [l];
    if (inYaml) {
      inYaml = l !== '  ...';
      return [];
    }
    const point = /^(?:not )?ok (\d+) (\S+)/.exec(l);
    if (point) {
      const hit = state === 'before' && point[2] === name;
      if (hit) state = rest ? 'skipping' : 'after';
      converting = hit || state === 'skipping';
      if (!converting) return [l];
      return [...(hit ? [infoLine('lacks', reason)] : []), `ok ${point[1]} ${point[2]} # SKIP ${reason}`];
    }
    // A skipped step has no YAML diagnostic and reports no facts.
    if (converting && l === '  ---') inYaml = true;
    if (inYaml || (state === 'skipping' && l.startsWith(INFO_PREFIX) && !l.startsWith(infoLine(INFO.agent, '')))) return [];
    return [l];
  });
}

/** A console without its warning splats: each block from `[ cut here ]` to `---[ end trace`, as a clean boot prints it. */
export function withoutSplats(console: string): string {
  const out: string[] = [];
  let inSplat = false;
  for (const l of console.split('\n')) {
    if (/^-+\[ cut here \]-+\r?$/.test(l)) inSplat = true;
    if (!inSplat) out.push(l);
    if (/^---\[ end trace /.test(l)) inSplat = false;
  }
  return out.join('\n');
}

/** Turns the test point `name` of stage `stage` not ok, as an agent whose check failed reports it (with its YAML
 * block, and the stage's line count at the kexec grown to match). */
export function withFailed(lines: string[], name: string, stage = 1): string[] {
  const yaml = ['  ---', '  expected: "what a correct kernel does"', '  seen: "the control"', '  ...'];
  let cur = 0;
  let added = 0;
  return lines.flatMap((l) => {
    const start = stageStart.exec(l);
    if (start) cur = Number(start[1]);
    if (cur !== stage) return [l];
    const kexec = stageKexec.exec(l);
    if (kexec) return [`${kexec[1]}${Number(kexec[2]) + added}${kexec[3]}`];
    const point = /^ok (\d+) (\S+)(?: # SKIP .*)?$/.exec(l);
    if (!point || point[2] !== name) return [l];
    added += yaml.length;
    return [`not ok ${point[1]} ${name}`, ...yaml];
  });
}

/** Turns the not ok test point `name` of stage `stage` ok, as an agent whose check passed reports it (its YAML block
 * gone, and the stage's line count at the kexec shrunk to match). */
export function withPassed(lines: string[], name: string, stage = 1): string[] {
  let cur = 0;
  let removed = 0;
  let inYaml = false;
  return lines.flatMap((l) => {
    const start = stageStart.exec(l);
    if (start) cur = Number(start[1]);
    if (cur !== stage) return [l];
    if (inYaml) {
      removed++;
      inYaml = l !== '  ...';
      return [];
    }
    const kexec = stageKexec.exec(l);
    if (kexec) return [`${kexec[1]}${Number(kexec[2]) - removed}${kexec[3]}`];
    const point = /^not ok (\d+) (\S+)$/.exec(l);
    if (!point || point[2] !== name) return [l];
    inYaml = true;
    return [`ok ${point[1]} ${name}`];
  });
}
