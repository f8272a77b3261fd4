// Host tools each job needs, the Debian package that provides each, and installing what is missing.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { UsageError } from './errors.ts';
import { note } from './progress.ts';

export interface HostNeed {
  /** A program on PATH, or an absolute file that must exist. */
  what: string;
  pkg: string;
}

export const kernelBuildNeeds: HostNeed[] = [
  { what: 'make', pkg: 'make' },
  { what: 'gcc', pkg: 'gcc' },
  { what: 'flex', pkg: 'flex' },
  { what: 'bison', pkg: 'bison' },
  { what: 'bc', pkg: 'bc' },
  { what: 'rsync', pkg: 'rsync' },
  { what: 'perl', pkg: 'perl' },
  { what: 'xz', pkg: 'xz-utils' },
  { what: 'dpkg-deb', pkg: 'dpkg' },
  { what: 'apt-get', pkg: 'apt' },
  { what: '/usr/include/libelf.h', pkg: 'libelf-dev' },
  { what: '/usr/include/openssl/ssl.h', pkg: 'libssl-dev' },
];

export const agentBuildNeeds: HostNeed[] = [
  { what: 'gcc', pkg: 'gcc' },
  { what: '/usr/lib/x86_64-linux-gnu/libc.a', pkg: 'libc6-dev' },
];

export const qemuNeeds: HostNeed[] = [{ what: 'qemu-system-x86_64', pkg: 'qemu-system-x86' }];

/** The guest shell's busybox, a static binary the initramfs can carry. */
export const shellNeeds: HostNeed[] = [{ what: '/bin/busybox', pkg: 'busybox-static' }];

export function onPath(program: string): string | undefined {
  if (program.includes('/')) return isExecutable(program) ? program : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir || '.', program);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function present(need: HostNeed): boolean {
  return need.what.startsWith('/') ? existsSync(need.what) : onPath(need.what) !== undefined;
}

/** Installs missing Debian packages when root; otherwise stops with one line naming them. */
export async function ensureHostNeeds(needs: HostNeed[], purpose: string): Promise<void> {
  const missing = [...new Set(needs.filter((n) => !present(n)).map((n) => n.pkg))];
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || process.env.VFIO_HANDOVER_NO_INSTALL === '1') {
    throw new UsageError(`${purpose} needs Debian packages that are missing: sudo apt-get install ${missing.join(' ')}`);
  }
  note(`installing Debian packages for ${purpose}: ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  // Parallel runs may install at once: wait for dpkg's lock rather than fail on it.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const install = () => execa('apt-get', [...lock, 'install', '-y', '-q', '--no-install-recommends', ...missing], { env, all: true, reject: false });
  let res = await install();
  if (res.exitCode !== 0) {
    await execa('apt-get', [...lock, 'update', '-q'], { env, reject: false });
    res = await install();
  }
  const still = needs.filter((n) => !present(n));
  if (res.exitCode !== 0 || still.length > 0) {
    const last = String(res.all ?? '').trim().split('\n').pop() ?? '';
    throw new UsageError(`could not install ${missing.join(' ')} for ${purpose}: ${last}`);
  }
}
