// Finds the Debian mirror the machine's apt already uses; the project never names a package host.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface AptEntry {
  uri: string;
  suites: string[];
  components: string[];
  signedBy?: string;
}

/** Parses one-line `deb` entries (sources.list). */
export function parseOneLine(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const opts = m[1] ?? '';
    const signed = /signed-by=(\S+)/.exec(opts)?.[1];
    out.push({ uri: m[2]!, suites: [m[3]!], components: (m[4] ?? '').split(/\s+/).filter(Boolean), signedBy: signed });
  }
  return out;
}

/** Parses deb822 stanzas (*.sources). */
export function parseDeb822(text: string): AptEntry[] {
  const out: AptEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const words = (k: string) => (fields.get(k) ?? '').split(/\s+/).filter(Boolean);
    for (const uri of words('uris')) {
      out.push({ uri, suites: words('suites'), components: words('components'), signedBy: fields.get('signed-by') });
    }
  }
  return out;
}

export function systemAptEntries(etc = '/etc/apt'): AptEntry[] {
  const entries: AptEntry[] = [];
  const list = join(etc, 'sources.list');
  if (existsSync(list)) entries.push(...parseOneLine(readFileSync(list, 'utf8')));
  const dir = join(etc, 'sources.list.d');
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const text = readFileSync(join(dir, name), 'utf8');
      if (name.endsWith('.list')) entries.push(...parseOneLine(text));
      else if (name.endsWith('.sources')) entries.push(...parseDeb822(text));
    }
  }
  return entries;
}

const debianSuite = /^(bookworm|trixie|forky|duke|sid|unstable|testing|stable|oldstable)(-updates|-backports)?$/;

/** The first main-archive Debian entry (not security, not a third-party repository). */
export function debianMirror(entries: AptEntry[]): AptEntry | undefined {
  return entries.find(
    (e) => e.suites.some((s) => debianSuite.test(s)) && e.components.includes('main') && !/security/.test(e.uri),
  );
}
