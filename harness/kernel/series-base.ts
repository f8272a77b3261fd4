// A series that sits on another (upstream's, under review) names that base in its folder's
// `series-base` file; the base's patches come from --series-base PATH and are applied first.
// The base is never copied into the project: the file only says what it is and how to fetch it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';

export const seriesBaseFile = 'series-base';

/** One cover letter the base is made of: its Message-ID (what `b4 am` fetches) and what it is. */
export interface BaseCover {
  messageId: string;
  what: string;
}

/** What a series' `series-base` file says about the base it needs. */
export interface BaseNeed {
  /** The series folder that needs it. */
  series: string;
  covers: BaseCover[];
  /** The folder layout --series-base must have, in words. */
  layout: string;
  /** How many *.patch files that folder holds. */
  patches: number;
  /** Config fragments the folder must hold (the base's own, which turn its feature on). */
  fragments: string[];
}

/** Parses `key: value` lines (# comments); every key known, every required one present. */
export function parseBaseNeed(series: string, text: string): BaseNeed {
  const where = join(series, seriesBaseFile);
  const need: BaseNeed = { series, covers: [], layout: '', patches: 0, fragments: [] };
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-z-]+):\s*(.*)$/.exec(line);
    if (!m) throw new UsageError(`${where}:${i + 1}: expected 'key: value', not '${line}'`);
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'message-id') {
      const c = /^<?([^\s<>]+@[^\s<>]+)>?\s+(.+)$/.exec(value);
      if (!c) throw new UsageError(`${where}:${i + 1}: message-id takes '<ID> what it is', not '${value}'`);
      need.covers.push({ messageId: c[1]!, what: c[2]! });
    } else if (key === 'layout') need.layout = value;
    else if (key === 'patches' && /^\d+$/.test(value)) need.patches = Number(value);
    else if (key === 'fragment') need.fragments.push(value);
    else throw new UsageError(`${where}:${i + 1}: unknown or malformed key '${key}: ${value}'`);
  }
  if (!need.covers.length || !need.layout || !need.patches) throw new UsageError(`${where} must name message-id, layout and patches`);
  return need;
}

/** The base a series folder needs, or none when it has no `series-base` file (or is an mbox). */
export function baseNeedOf(series: string | undefined): BaseNeed | undefined {
  if (series === undefined || !existsSync(series) || !statSync(series).isDirectory()) return undefined;
  const file = join(series, seriesBaseFile);
  return existsSync(file) ? parseBaseNeed(series, readFileSync(file, 'utf8')) : undefined;
}

/** The one line a run stops with when the base is not given: what is missing and how to fetch it. */
export function missingBaseLine(need: BaseNeed): string {
  const covers = need.covers.map((c) => `${c.what} (${c.messageId})`).join(' + ');
  const fetch = need.covers.map((c) => `'b4 am ${c.messageId}'`).join(', ');
  return `series ${basename(need.series)} applies on top of ${covers}, which it does not carry: pass --series-base PATH, ${need.layout} (fetch them with ${fetch})`;
}

/** The base folder checked against the layout the series names; returns its absolute path. */
export function checkBase(need: BaseNeed, path: string): string {
  const abs = resolve(path);
  const name = basename(need.series);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new UsageError(`--series-base ${path} is not a folder (${name} needs ${need.layout})`);
  const files = readdirSync(abs);
  const patches = files.filter((f) => f.endsWith('.patch')).length;
  const lacking = need.fragments.filter((f) => !files.includes(f));
  if (patches !== need.patches || lacking.length) {
    const saw = `${patches} *.patch${lacking.length ? `, no ${lacking.join(', ')}` : ''}`;
    throw new UsageError(`--series-base ${path} is not the base ${name} needs (${need.layout}): it has ${saw}`);
  }
  return abs;
}

/** --series-base for a series: required when it names a base, refused when it names none. */
export function seriesBaseFor(series: string | undefined, base: string | undefined, label: string): string | undefined {
  const need = baseNeedOf(series);
  if (need && base === undefined) throw new UsageError(missingBaseLine(need));
  if (!need && base !== undefined) throw new UsageError(`--series-base ${base}: ${label} names no base (only a series folder with a ${seriesBaseFile} file does)`);
  return need && base !== undefined ? checkBase(need, base) : undefined;
}
