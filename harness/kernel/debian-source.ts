// Fetches Debian's linux-source-X.Y with apt-get download through a private sources list
// and state folder, leaving the system's apt setup untouched; unpacks it into the cache.
import { mkdirSync, writeFileSync, existsSync, readdirSync, rmSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { InfraError, UsageError } from '../errors.ts';
import { note } from '../progress.ts';
import { debianMirror, systemAptEntries } from './apt-mirror.ts';
import { withLock } from './lock.ts';

export interface DebianSource {
  series: string;
  version: string;
  tree: string;
}

const suite = 'trixie-backports';
const defaultKeyring = '/usr/share/keyrings/debian-archive-keyring.gpg';

function aptOptions(state: string): string[] {
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  return [
    ...o('Dir::Etc::SourceList', join(state, 'sources.list')),
    ...o('Dir::Etc::SourceParts', join(state, 'sources.list.d')),
    ...o('Dir::Etc::PreferencesParts', join(state, 'preferences.d')),
    ...o('Dir::State::Lists', join(state, 'lists')),
    ...o('Dir::Cache', state),
    ...o('Dir::Cache::archives', join(state, 'archives')),
    ...o('Dir::State::status', '/dev/null'),
    ...o('APT::Sandbox::User', 'root'),
  ];
}

async function prepareApt(state: string): Promise<string[]> {
  for (const d of ['lists/partial', 'archives/partial', 'sources.list.d', 'preferences.d']) mkdirSync(join(state, d), { recursive: true });
  const mirror = debianMirror(systemAptEntries());
  if (!mirror) throw new UsageError('no Debian mirror found in /etc/apt/sources.list{,.d}: the default kernel is fetched through the mirror apt already uses');
  const keyring = mirror.signedBy && existsSync(mirror.signedBy) ? mirror.signedBy : defaultKeyring;
  writeFileSync(join(state, 'sources.list'), `deb [signed-by=${keyring}] ${mirror.uri} ${suite} main\n`);
  const opts = aptOptions(state);
  // Package lists are refreshed at most daily: a warm run needs no network.
  const stamp = join(state, 'updated');
  const fresh = existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 24 * 3600 * 1000 && process.env.VFIO_HANDOVER_REFRESH !== '1';
  if (fresh) return opts;
  const upd = await execa('apt-get', [...opts, '-q', 'update'], { all: true, reject: false });
  if (upd.exitCode !== 0) throw new InfraError(`apt-get update for ${suite} failed: ${lastLine(upd.all)}`);
  writeFileSync(stamp, '');
  return opts;
}

function lastLine(text: unknown): string {
  return String(text ?? '').trim().split('\n').filter((l) => !l.startsWith('W:')).pop() ?? '';
}

/** Ensures linux-source-<series> is downloaded and unpacked; returns its tree. */
export async function debianKernelSource(series: string, cache: string): Promise<DebianSource> {
  const state = join(cache, 'apt');
  mkdirSync(state, { recursive: true });
  // One apt at a time on the private state, whatever runs in parallel.
  return withLock(`${state}.lock`, () => fetchSource(series, cache, state));
}

async function fetchSource(series: string, cache: string, state: string): Promise<DebianSource> {
  const opts = await prepareApt(state);
  const pkg = `linux-source-${series}`;
  const show = await execa('apt-cache', [...opts, 'show', '--no-all-versions', pkg], { reject: false, all: true });
  const version = /^Version:\s*(\S+)/m.exec(String(show.stdout))?.[1];
  if (show.exitCode !== 0 || !version) throw new UsageError(`Debian has no ${pkg} in ${suite}: ${lastLine(show.all)}`);

  const tree = join(cache, 'src', `${pkg}_${version}`);
  const done = join(tree, '.unpacked');
  if (existsSync(done)) return { series, version, tree: join(tree, pkg) };

  const dl = join(state, 'download');
  mkdirSync(dl, { recursive: true });
  let deb = readdirSync(dl).find((f) => f.startsWith(`${pkg}_${version.replace(/:/, '%3a')}_`));
  if (!deb) {
    note(`downloading ${pkg} ${version} from ${suite}`);
    const got = await execa('apt-get', [...opts, '-q', 'download', `${pkg}=${version}`], { cwd: dl, all: true, reject: false });
    if (got.exitCode !== 0) throw new InfraError(`apt-get download ${pkg} failed: ${lastLine(got.all)}`);
    deb = readdirSync(dl).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new InfraError(`apt-get download ${pkg} left no .deb in ${dl}`);
  }
  note(`unpacking ${pkg} ${version}`);
  const tmp = `${tree}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const debPath = join(dl, deb);
  // The .deb carries one tarball of the tree; stream it out and unpack in one pass.
  await execa('sh', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -xO ./usr/src/${pkg}.tar.xz | tar -xJ`, 'sh', debPath], { cwd: tmp });
  rmSync(tree, { recursive: true, force: true });
  renameSync(tmp, tree);
  writeFileSync(done, `${version}\n`);
  return { series, version, tree: join(tree, pkg) };
}
