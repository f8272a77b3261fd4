// Host tools each job needs, the Debian package that provides each, and installing what is missing.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from './errors.ts';
import { capture, run } from './proc.ts';
import { hostArch } from './qemu/arch.ts';
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
  { what: hostArch().staticLibc, pkg: 'libc6-dev' },
];

export const qemuNeeds: HostNeed[] = [{ what: hostArch().qemu, pkg: hostArch().qemuPackage }];

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
  const install = ['apt-get', [...lock, 'install', '-y', '-q', '--no-install-recommends', ...missing]] as const;
  // Stale package lists are the usual reason an install fails: refreshed once, then tried again.
  if (!(await capture(...install, { env })).ok) {
    await capture('apt-get', [...lock, 'update', '-q'], { env });
    await run(...install, { env, usage: true, shown: 'apt-get install', failure: `could not install ${missing.join(' ')} for ${purpose}` });
  }
  const still = needs.filter((n) => !present(n)).map((n) => n.what);
  if (still.length > 0) throw new UsageError(`could not install ${missing.join(' ')} for ${purpose}: still missing after apt-get install: ${still.join(' ')}`);
}
