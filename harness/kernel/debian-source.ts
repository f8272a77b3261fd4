// Fetches Debian's linux-source-X.Y with apt-get download through a private sources list
// and state folder, leaving the system's apt setup untouched; unpacks it into the cache.
import { mkdirSync, writeFileSync, existsSync, readdirSync, rmSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, UsageError } from '../errors.ts';
import { pipeline, run } from '../proc.ts';
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
  await run('apt-get', [...opts, '-q', 'update'], { shown: 'apt-get update', failure: `fetching the ${suite} package lists failed` });
  writeFileSync(stamp, '');
  return opts;
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
  const show = await run('apt-cache', [...opts, 'show', '--no-all-versions', pkg], { shown: 'apt-cache show', failure: `Debian has no ${pkg} in ${suite}`, usage: true });
  const version = /^Version:\s*(\S+)/m.exec(show.stdout)?.[1];
  if (!version) throw new UsageError(`Debian has no ${pkg} in ${suite}: apt-cache show named no version`);

  const tree = join(cache, 'src', `${pkg}_${version}`);
  const done = join(tree, '.unpacked');
  if (existsSync(done)) return { series, version, tree: join(tree, pkg) };

  const dl = join(state, 'download');
  mkdirSync(dl, { recursive: true });
  let deb = readdirSync(dl).find((f) => f.startsWith(`${pkg}_${version.replace(/:/, '%3a')}_`));
  if (!deb) {
    note(`downloading ${pkg} ${version} from ${suite}`);
    await run('apt-get', [...opts, '-q', 'download', `${pkg}=${version}`], { cwd: dl, shown: 'apt-get download', failure: `downloading ${pkg} failed` });
    deb = readdirSync(dl).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!deb) throw new InfraError(`apt-get download ${pkg} left no .deb in ${dl}`);
  }
  note(`unpacking ${pkg} ${version}`);
  const tmp = `${tree}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const debPath = join(dl, deb);
  // The .deb carries one tarball of the tree; stream it out and unpack in one pass.
  const stages: [string, string[]][] = [['dpkg-deb', ['--fsys-tarfile', debPath]], ['tar', ['-xO', `./usr/src/${pkg}.tar.xz`]], ['tar', ['-xJ']]];
  await pipeline(stages, { cwd: tmp, failure: `unpacking ${pkg} ${version} failed` });
  rmSync(tree, { recursive: true, force: true });
  renameSync(tmp, tree);
  writeFileSync(done, `${version}\n`);
  return { series, version, tree: join(tree, pkg) };
}
