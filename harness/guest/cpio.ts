// A newc cpio writer: the initramfs is a handful of entries, so no external tool is needed.

export type CpioEntry =
  | { path: string; kind: 'dir'; mode?: number }
  | { path: string; kind: 'file'; data: Buffer; mode?: number }
  | { path: string; kind: 'chardev'; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return n.toString(16).padStart(8, '0');
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function header(ino: number, mode: number, size: number, name: string, rmaj = 0, rmin = 0): Buffer {
  const nameBuf = Buffer.from(`${name}\0`);
  const fields = [ino, mode, 0, 0, 1, 0, size, 0, 0, rmaj, rmin, nameBuf.length, 0];
  const head = Buffer.from(`070701${fields.map(hex8).join('')}`);
  return Buffer.concat([head, nameBuf, pad4(head.length + nameBuf.length)]);
}

export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    if (e.kind === 'dir') parts.push(header(ino++, S_IFDIR | (e.mode ?? 0o755), 0, e.path));
    else if (e.kind === 'chardev') parts.push(header(ino++, S_IFCHR | (e.mode ?? 0o600), 0, e.path, e.major, e.minor));
    else parts.push(header(ino++, S_IFREG | (e.mode ?? 0o644), e.data.length, e.path), e.data, pad4(e.data.length));
  }
  parts.push(header(0, 0, 0, 'TRAILER!!!'));
  return Buffer.concat(parts);
}
