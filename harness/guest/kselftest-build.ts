// Builds a case's kselftests from the kernel tree under test (Kernel.source), static, against that kernel's installed
// uapi headers, cached like the agent: keyed by the tree, the headers and every source of the selftest folders used.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import type { Kselftest } from '../../cases/case.ts';
import { run } from '../proc.ts';
import { cacheDir } from '../paths.ts';
import { agentBuildNeeds, ensureHostNeeds } from '../host-deps.ts';
import type { Kernel } from '../kernel/build.ts';
import { withLock } from '../kernel/lock.ts';

/** A kselftest built for the kernel, or why it cannot be (the case then SKIPs with that reason before booting). */
export type BuiltKselftest = { program: string; path: string } | { program: string; missing: string };

const selftests = 'tools/testing/selftests';

/** Why this kernel's tree cannot give the kselftest, or undefined when its source is there. */
export function kselftestMissing(kernel: Kernel, k: Kselftest): string | undefined {
  if (!kernel.source) return `kernel ${kernel.spec} has no source tree to build kselftest ${k.dir}/${k.program} from`;
  const src = join(selftests, k.dir, `${k.program}.c`);
  return existsSync(join(kernel.source, src)) ? undefined : `kernel tree ${kernel.spec} has no kselftest ${k.dir}/${k.program} (no ${src})`;
}

/** Every file under dir, sorted, as paths relative to root. */
function filesUnder(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true, encoding: 'utf8' })
    .map((f) => join(abs, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => relative(root, f))
    .sort();
}

/** The build's cache key: the tree, the headers, the selftest folder's sources and the harness headers they include. */
export function kselftestHash(kernel: Kernel, k: Kselftest): string {
  const tree = kernel.source!;
  const h = createHash('sha256').update(`${tree}\0${kernel.headers}\0${k.dir}\0${k.program}\0`);
  const shared = readdirSync(join(tree, selftests)).filter((f) => /^kselftest.*\.h$|^lib\.mk$/.test(f)).map((f) => join(selftests, f));
  for (const f of [...shared.sort(), ...filesUnder(tree, join(selftests, k.dir))]) h.update(f).update(readFileSync(join(tree, f)));
  for (const f of filesUnder(kernel.headers, 'include/linux')) h.update(f).update(readFileSync(join(kernel.headers, f)));
  return h.digest('hex').slice(0, 12);
}

/** Builds one kselftest (static) with its own Makefile, OUTPUT in the cache, or returns the cached binary. */
async function buildOne(kernel: Kernel, k: Kselftest): Promise<string> {
  const dir = join(cacheDir(), 'kselftests', `${k.program}-${kselftestHash(kernel, k)}`);
  const out = join(dir, k.program);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  return withLock(`${dir}.lock`, async () => {
    if (existsSync(out)) return out;
    const objs = join(dir, 'obj');
    rmSync(objs, { recursive: true, force: true });
    mkdirSync(objs);
    await run(
      'make',
      ['-s', '-C', join(kernel.source!, selftests, k.dir), `OUTPUT=${objs}`, `KHDR_INCLUDES=-isystem ${join(kernel.headers, 'include')}`, 'LDFLAGS=-static -pthread', join(objs, k.program)],
      { failure: `building kselftest ${k.dir}/${k.program} from ${kernel.source} failed` },
    );
    renameSync(join(objs, k.program), out);
    rmSync(objs, { recursive: true, force: true });
    return out;
  });
}

/** The case's kselftests for this kernel: built, or missing with the reason. */
export async function buildKselftests(kernel: Kernel, wanted: Kselftest[]): Promise<BuiltKselftest[]> {
  if (wanted.length) await ensureHostNeeds(agentBuildNeeds, 'building kselftests');
  const built: BuiltKselftest[] = [];
  for (const k of wanted) {
    const missing = kselftestMissing(kernel, k);
    built.push(missing ? { program: k.program, missing } : { program: k.program, path: await buildOne(kernel, k) });
  }
  return built;
}
