// TAP 14 diagnostics: a YAML document between `---` and `...`, indented under its test point.
import { Document, visit, type Scalar } from 'yaml';

/** Lines after which the kernel's kunit.py stops reading a KTAP file (kunit_parser.py's KTAP_END), anywhere in a line. */
const ktapEnd = /(List of all partitions|Kernel panic - not syncing(?=: VFS:)|reboot(?=: System halted)):/g;

/** Strings double-quoted (the shape TAP readers and our tests grep), multi-line text as literal blocks. */
function quoteStrings(key: unknown, node: Scalar): void {
  if (key === 'key' || typeof node.value !== 'string') return;
  // YAML reads any line break as LF; a serial console's CRLF would force an unreadable quoted string.
  const text = node.value.replace(/\r\n/g, '\n');
  node.value = text;
  // A kunit.py end marker must be escaped, and only a double-quoted scalar has escapes.
  node.type = text.includes('\n') && !text.match(ktapEnd) ? 'BLOCK_LITERAL' : 'QUOTE_DOUBLE';
}

/** `data` as a YAML diagnostic block; null and undefined entries are left out. */
export function yamlBlock(data: Record<string, unknown>, indent: string): string[] {
  const doc = new Document(Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined && v !== null)));
  visit(doc, { Scalar: quoteStrings });
  // lineWidth 0: a long reason stays on one line, as the kernel printed it.
  // "\x3a" reads back as ':' in a double-quoted scalar, and hides the marker from kunit.py.
  const body = doc.toString({ lineWidth: 0 }).replace(ktapEnd, '$1\\x3a').replace(/\n$/, '').split('\n');
  return [`${indent}---`, ...body.map((l) => `${indent}${l}`), `${indent}...`];
}
