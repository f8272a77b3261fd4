// Boots the suite's VMs again and again while a kernel build runs beside them (the load of a fresh
// machine's `npm test`), and counts boots that hang. Usage:
//   node --import tsx test/stress/boot-under-load.ts [--rounds N] [--cases a,b (default: the suite)] [--jobs J]
// Each round is one `vfio-handover run`; a hang is a case that ends in "no progress", with where
// every vCPU was (from QMP) beside it. Exit 1 when any boot hung.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { $ } from 'zx';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '10' },
    // Empty: the whole suite.
    cases: { type: 'string', default: '' },
    jobs: { type: 'string', default: '2' },
  },
});
const cli = resolve(import.meta.dirname, '..', '..', 'vfio-handover');
$.verbose = false;

/** A from-scratch build of the cached kernel source in a scratch object folder, restarted until stopped. */
function startLoad(source: string): { stop: () => Promise<void> } {
  const out = mkdtempSync(join(tmpdir(), 'vh-load-'));
  const make = `make -s -C '${source}' O='${out}'`;
  // Its own process group, so stopping it stops every make and compiler under it.
  const load = spawn('bash', ['-c', `while :; do ${make} allnoconfig; ${make} -j2 vmlinux; ${make} clean; done`], {
    detached: true,
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => load.on('exit', resolve));
  return {
    stop: async () => {
      process.kill(-load.pid!, 'SIGKILL');
      await exited;
      rmSync(out, { recursive: true, force: true });
    },
  };
}

const built = await $`${cli} build`.nothrow();
const source = /^source (.+)$/m.exec(built.stdout)?.[1];
if (!source) {
  process.stderr.write(`boot-under-load: vfio-handover build failed: ${built.stderr.trim().split('\n').at(-1) ?? `exit ${built.exitCode}`}\n`);
  process.exit(3);
}
const load = startLoad(source);
let boots = 0;
const hangs: string[] = [];
try {
  for (let i = 1; i <= Number(values.rounds); i++) {
    const dir = mkdtempSync(join(tmpdir(), 'vh-stress-'));
    const r = await $`${cli} run ${values.cases!.split(',').filter(Boolean)} --tap --jobs ${values.jobs} --results ${dir}`.nothrow();
    const run = join(dir, readlinkSync(join(dir, 'latest')));
    for (const f of readdirSync(run).filter((n) => n.endsWith('.console.log'))) {
      const log = readFileSync(join(run, f), 'utf8');
      boots += log.match(/^Linux version /gm)?.length ?? 0;
    }
    const hung = r.stdout.split('\n').filter((l) => /no progress for/.test(l));
    hangs.push(...hung.map((l) => `round ${i}: ${l.trim()}`));
    process.stderr.write(`round ${i}: exit ${r.exitCode}, ${boots} boots so far, ${hangs.length} hung\n`);
    if (!hung.length) rmSync(dir, { recursive: true, force: true });
    else process.stderr.write(`  kept ${run}\n`);
  }
} finally {
  await load.stop();
}
for (const h of hangs) process.stdout.write(`${h}\n`);
process.stdout.write(`boots: ${boots}, hung: ${hangs.length}\n`);
process.exit(hangs.length ? 1 : 0);
