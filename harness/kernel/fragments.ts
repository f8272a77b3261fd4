// Config fragments (one per capability) and the check that every requested symbol landed.
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { fragmentsDir, repoRoot } from '../paths.ts';

export interface Fragment {
  name: string;
  path: string;
  text: string;
  /** Symbol (without CONFIG_) -> requested value; 'n' means must be off. */
  wants: Map<string, string>;
}

export function parseConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line.trim());
    if (set) out.set(set[1]!, set[2]!);
    const unset = /^# CONFIG_([A-Za-z0-9_]+) is not set/.exec(line.trim());
    if (unset) out.set(unset[1]!, 'n');
  }
  return out;
}

export function loadFragment(path: string): Fragment {
  const text = readFileSync(path, 'utf8');
  const name = path.split('/').pop()!.replace(/\.config$/, '');
  return { name, path, text, wants: parseConfig(text) };
}

export function allFragments(dir = fragmentsDir): Fragment[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.config'))
    .sort()
    .map((f) => loadFragment(join(dir, f)));
}

export function fragmentsHash(fragments: Fragment[], extra = ''): string {
  const h = createHash('sha256').update(extra);
  for (const f of fragments) h.update(`\0${f.name}\0${f.text}`);
  return h.digest('hex').slice(0, 12);
}

export interface Miss {
  symbol: string;
  wanted: string;
  got: string;
  fragment: string;
}

/** Every symbol a fragment asks for that the final .config does not have as asked. */
export function missingSymbols(config: Map<string, string>, fragments: Fragment[]): Miss[] {
  const misses: Miss[] = [];
  for (const f of fragments) {
    for (const [symbol, wanted] of f.wants) {
      const got = config.get(symbol) ?? 'n';
      if (got !== wanted) misses.push({ symbol, wanted, got, fragment: relative(repoRoot, f.path) });
    }
  }
  return misses;
}

export function describeMiss(m: Miss): string {
  return `CONFIG_${m.symbol}=${m.wanted} requested by ${m.fragment} did not land (the kernel has ${m.got})`;
}
