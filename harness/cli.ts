// vfio-handover: the command line. Parses, runs, maps outcomes to exit codes; never a stack trace.
import { parseArgs } from 'node:util';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { allCases, pickCases } from '../cases/index.ts';
import { claims, type Claim } from '../kernels/capabilities.ts';
import { ExitCode, InfraError, UsageError } from './errors.ts';
import { ensureHostNeeds, onPath, qemuNeeds, shellNeeds } from './host-deps.ts';
import { defaultKernelSpec, parseKernelSpec, resolveKernel } from './kernel/spec.ts';
import { buildGuest } from './guest/initramfs.ts';
import { chooseAccel } from './qemu/accel.ts';
import { hostArch } from './qemu/arch.ts';
import { defaultTimeouts, runCase, type RunContext } from './run-case.ts';
import { controlCase, controls, judgeControl } from './selftest.ts';
import { yamlBlock } from './report/yaml.ts';
import { caseCost, inOrderPool, parseJobs, shard } from './schedule.ts';
import { diagnose } from './doctor.ts';
import { runShell } from './shell.ts';
import { benchTable, summarize, type BenchSummary, type Sample } from './bench.ts';
import type { Case } from '../cases/case.ts';
import type { Kernel } from './kernel/build.ts';
import type { Phase } from './run-case.ts';
import { ResultsDir } from './results.ts';
import { tapCase, tapHeader } from './report/tap.ts';
import { note, status, endStatus } from './progress.ts';
import type { CaseResult } from './verdict.ts';

const usage = `usage: vfio-handover <command> [options]
  run [CASE...]      run cases (default: the whole suite) and print TAP
      --kernel SPEC  ${defaultKernelSpec}[+SERIES] (default ${defaultKernelSpec}) | tree:PATH | image:PATH[,config=PATH][,headers=DIR]
      --patches PATH an mbox or a folder of patches, applied with git am onto a copy of the --kernel source
      --next-kernel SPEC  the kernel stage 1 kexecs into (upgrade and downgrade paths)
      --tap          TAP on stdout even on a terminal
      --jobs N       VMs at once (default: from cores and free memory); output is the same either way
      --shard I/N    run every Nth case starting at the Ith (CI matrices)
      --results DIR  write results/<run-id> under DIR (default: results/)
      --append WORDS extra guest kernel command-line words (they win over ours)
      --timeout PHASE=S  seconds of silence allowed in a phase (qemu-start, boot, case, kexec, poweroff)
      --bisect       for git bisect run: build failures and infrastructure errors exit 125
      --require CLAIM  a SKIP for this kernel claim is a failure (${Object.keys(claims).join(', ')}); repeatable
  selftest           run the negative controls: drivers that cheat on purpose; ok = caught
  bench [--rounds K] [--skip-suite]
                     the handover case against a bare boot, K interleaved rounds, and the suite
                     serial against --jobs 2; ratios, not seconds
  shell [CASE]       the case's VM, devices bound to vfio-pci, a busybox shell on the console
  doctor             QEMU and its devices, KVM or why not, static gcc, the config check for --kernel SPEC
  build              install the host packages runs need, build the kernel and guest for --kernel SPEC
  list               list the cases`;

async function findQemu(binary: string): Promise<string> {
  const forced = process.env.VFIO_HANDOVER_QEMU;
  if (forced) {
    const found = onPath(forced);
    if (!found) throw new UsageError(`QEMU not found: ${forced} (VFIO_HANDOVER_QEMU)`);
    return found;
  }
  await ensureHostNeeds(qemuNeeds, 'running VMs');
  const found = onPath(binary);
  if (!found) throw new UsageError(`QEMU not found: ${binary} (apt-get install qemu-system-x86)`);
  return found;
}

/** The release our build recorded, when this kernel came from our cache. */
function kernelRelease(kernel: Kernel): string | undefined {
  const meta = join(dirname(kernel.bzImage), 'meta.json');
  if (!existsSync(meta)) return undefined;
  return (JSON.parse(readFileSync(meta, 'utf8')) as { release?: string }).release;
}

async function qemuVersion(qemu: string): Promise<string> {
  const r = await execa(qemu, ['--version'], { reject: false });
  return String(r.stdout).split('\n')[0] ?? 'unknown';
}

function exitCodeFor(results: CaseResult[]): number {
  if (results.some((r) => r.status === 'error' || r.status === 'miss')) return ExitCode.infra;
  if (results.some((r) => r.status === 'fail')) return ExitCode.failed;
  return ExitCode.ok;
}

function summaryTable(results: CaseResult[]): string[] {
  const rows = results.map((r) => [r.case, r.status.toUpperCase(), r.timings.wall_ms ? `${(r.timings.wall_ms / 1000).toFixed(1)} s` : '-', r.reason ?? '']);
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), 4));
  return rows.map((r) => `${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]!.padStart(w[2]!)}  ${r[3]}`);
}

function parseRequire(names: string[] = []): Claim[] {
  for (const n of names) {
    if (!(n in claims)) throw new UsageError(`unknown claim '${n}' for --require: known claims are ${Object.keys(claims).join(', ')}`);
  }
  return names as Claim[];
}

interface RunValues {
  patches?: string;
  'next-kernel'?: string;
  jobs?: string;
  shard?: string;
  timeout?: string[];
  bisect?: boolean;
  kernel?: string;
  tap?: boolean;
  results?: string;
  append?: string;
  require?: string[];
}

const phases: Phase[] = ['qemu-start', 'boot', 'case', 'kexec', 'poweroff'];

/** --timeout PHASE=SECONDS: seconds of silence allowed in a phase. */
function parseTimeouts(words: string[] = []): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  for (const w of words) {
    const m = /^([a-z-]+)=(\d+(?:\.\d+)?)$/.exec(w);
    if (!m || !phases.includes(m[1] as Phase)) throw new UsageError(`--timeout takes PHASE=SECONDS with PHASE one of ${phases.join(', ')}, not '${w}'`);
    out[m[1] as Phase] = Number(m[2]);
  }
  return out;
}

/** Everything a run needs before its first VM: QEMU, kernel, guest, accelerator, results folder. */
async function prepare(values: RunValues, caseNames: string[]) {
  const arch = hostArch();
  const qemu = await findQemu(arch.qemu);
  const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec, values.patches));
  const next = values['next-kernel'] ? await resolveKernel(parseKernelSpec(values['next-kernel'])) : undefined;
  const guest = await buildGuest(kernel, next);
  const accel = await chooseAccel(qemu, arch, kernel.bzImage);
  const results = new ResultsDir(values.results);
  const tapOut = Boolean(values.tap) || !process.stdout.isTTY;
  const started = new Date().toISOString();
  const qemuVer = await qemuVersion(qemu);
  const release = kernelRelease(kernel);
  const configHash = kernel.config ? createHash('sha256').update(readFileSync(kernel.config)).digest('hex').slice(0, 16) : undefined;
  results.meta(
    {
      started,
      kernel: { spec: kernel.spec, version: kernel.version, key: kernel.key, bzImage: kernel.bzImage, release, configHash },
      ...(next ? { nextKernel: { spec: next.spec, version: next.version, key: next.key, bzImage: next.bzImage } } : {}),
      accel,
      qemu: qemuVer,
      cases: caseNames,
    },
    {
      runId: results.id,
      startedAt: started,
      kernel: { spec: kernel.spec, version: kernel.version, key: kernel.key, release, configHash },
      environment: { accel: accel.name, accelWhy: accel.why, qemu: qemuVer, arch: arch.name },
    },
  );
  note(`running ${caseNames.length} VM(s) on ${kernel.spec} with ${accel.name.toUpperCase()} (${accel.why}); results in ${results.dir}`);
  const emit = (lines: string[]) => {
    results.tap(lines);
    if (tapOut) process.stdout.write(lines.map((l) => `${l}\n`).join(''));
  };
  const ctx = (c: Case, i: number, n: number, append?: string): RunContext => {
    const started = Date.now();
    return {
      kernel, guest, accel, arch, qemu,
      outDir: results.dir,
      append,
      timeouts: { ...defaultTimeouts(accel), ...parseTimeouts(values.timeout) },
      onPhase: (k, p) => status(`[${i + 1}/${n}] ${k.name}: ${p} (${Math.round((Date.now() - started) / 1000)} s)`, 0),
    };
  };
  return { results, tapOut, emit, ctx };
}

async function cmdRun(positionals: string[], values: RunValues): Promise<number> {
  const cases = shard(pickCases(positionals), values.shard);
  const require = parseRequire(values.require);
  const jobs = parseJobs(values.jobs);
  const { results, tapOut, emit, ctx } = await prepare(values, cases.map((c) => c.name));
  emit(tapHeader(cases.length));
  const phases = new Map<string, string>();
  const showPhases = () => status([...phases].map(([k, p]) => `${k}: ${p}`).join(' | '), 0);
  // Cases run in parallel VMs; their verdicts are reported in case order, so the output is the same either way.
  const done = await inOrderPool(
    cases,
    jobs,
    async (c, i) => {
      const r = await runCase(c, {
        ...ctx(c, i, cases.length, values.append),
        require,
        onPhase: (k, p) => {
          phases.set(k.name, p);
          showPhases();
        },
      });
      phases.delete(c.name);
      results.caseResult(r, i);
      return r;
    },
    (r, i) => {
      endStatus();
      emit(tapCase(r, i + 1));
      note(`[${i + 1}/${cases.length}] ${r.case}: ${r.status.toUpperCase()}${r.reason ? ` - ${r.reason}` : ''}`);
      showPhases();
    },
    caseCost,
  );
  endStatus();
  process[tapOut ? 'stderr' : 'stdout'].write(`${summaryTable(done).join('\n')}\n`);
  for (const r of done.filter((x) => x.status === 'fail' || x.status === 'error' || x.status === 'miss')) {
    process.stderr.write(`\n${r.case}: ${r.status.toUpperCase()} - ${whyFirst(r)}\n`);
    process.stderr.write(`full console: ${join(results.dir, `${r.case}.console.log`)}\n`);
  }
  const code = exitCodeFor(done);
  results.meta({ finished: new Date().toISOString(), exitCode: code, jobs, shard: values.shard });
  return code;
}

/** For a person: the first failing assertion's own words, or the console lines that explain an error. */
function whyFirst(r: CaseResult): string {
  if (r.status !== 'fail') return `${r.reason}\n${(r.excerpt ?? '').split('\n').slice(0, 15).join('\n')}`;
  const a = r.assertions.find((x) => !x.ok);
  return `${a?.name}: expected ${String(a?.diag?.expected)}, saw ${String(a?.diag?.seen)}${a?.diag?.errname ? ` (${String(a.diag.errname)})` : ''}`;
}

/** npm run bench: interleaved bare and handover runs, the suite serial and with --jobs 2, the build cache. */
async function cmdBench(values: RunValues & { rounds?: string; 'skip-suite'?: boolean }): Promise<number> {
  const rounds = Number(values.rounds ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds takes a whole number, not '${values.rounds}'`);
  const bare = pickCases(['boot'])[0]!;
  const handover = pickCases(['luo-dma-buffer'])[0]!;
  const { results, ctx } = await prepare({ ...values, tap: false }, [bare.name, handover.name]);
  // One DMA page per stage, as the hand-made baseline did one transfer: the figure is the harness's cost, not edu's.
  const append = [values.append, 'vh.pages=1'].filter(Boolean).join(' ');
  const samples: Sample[] = [];
  for (let i = 0; i < rounds; i++) {
    for (const [kind, c] of [['bare', bare], ['handover', handover]] as const) {
      const r = await runCase(c, ctx(c, i, rounds, append));
      endStatus();
      if (r.status !== 'pass') throw new InfraError(`bench: ${c.name} did not pass (${r.status}: ${r.reason})`);
      samples.push({ kind, timings: r.timings });
      note(`round ${i + 1}/${rounds}: ${kind} ${r.timings.wall_ms} ms`);
    }
  }
  const suiteWall = async (jobs: number) => {
    const t0 = Date.now();
    await inOrderPool(allCases, jobs, (c, i) => runCase(c, ctx(c, i, allCases.length, values.append)), () => endStatus(), caseCost);
    return Date.now() - t0;
  };
  const suite = values['skip-suite'] ? undefined : { serialMs: await suiteWall(1), jobs2Ms: await suiteWall(2) };
  const t0 = Date.now();
  const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec));
  const warmMs = Date.now() - t0;
  const meta = join(dirname(kernel.bzImage), 'meta.json');
  const coldSeconds = existsSync(meta) ? (JSON.parse(readFileSync(meta, 'utf8')) as { seconds?: number }).seconds : undefined;
  const summary: BenchSummary = {
    ...summarize(samples),
    ...(suite ? { suite: { ...suite, ratio: suite.jobs2Ms / suite.serialMs } } : {}),
    build: { coldSeconds, warmMs },
  };
  writeFileSync(join(results.dir, 'bench.json'), `${JSON.stringify({ summary, samples }, null, 2)}\n`);
  process.stdout.write(`${benchTable(summary).join('\n')}\n`);
  return ExitCode.ok;
}

/** Each negative control is a real run of its case with the cheat on; ok means its guard caught it. */
async function cmdSelftest(values: RunValues): Promise<number> {
  const { results, tapOut, emit, ctx } = await prepare(values, controls.map((c) => `${c.caseName} (vh.cheat=${c.cheat})`));
  emit(tapHeader(controls.length));
  let missed = 0;
  let broken = 0;
  for (const [i, control] of controls.entries()) {
    const c = controlCase(control);
    const append = [values.append, `vh.cheat=${control.cheat}`].filter(Boolean).join(' ');
    const r = await runCase(c, ctx(c, i, controls.length, append));
    endStatus();
    results.caseResult({ ...r, case: `${c.name}+${control.cheat}` });
    const v = judgeControl(control, r);
    if (!v.caught) missed++;
    if (r.status === 'error') broken++;
    const line = `${v.caught ? 'ok' : 'not ok'} ${i + 1} - ${control.cheat}: a driver that ${control.does}`;
    emit([line, ...yamlBlock({ guard: control.guard, verdict: v.detail }, '  ')]);
    note(`[${i + 1}/${controls.length}] ${control.cheat}: ${v.caught ? 'caught' : 'NOT CAUGHT'} - ${v.detail}`);
  }
  if (!tapOut) process.stdout.write(`${controls.length - missed}/${controls.length} controls caught\n`);
  return broken ? ExitCode.infra : missed ? ExitCode.failed : ExitCode.ok;
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      kernel: { type: 'string' },
      tap: { type: 'boolean' },
      results: { type: 'string' },
      append: { type: 'string' },
      require: { type: 'string', multiple: true },
      timeout: { type: 'string', multiple: true },
      bisect: { type: 'boolean' },
      jobs: { type: 'string', short: 'j' },
      shard: { type: 'string' },
      rounds: { type: 'string' },
      patches: { type: 'string' },
      'next-kernel': { type: 'string' },
      'skip-suite': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === 'help' || command === undefined) {
    process.stdout.write(`${usage}\n`);
    return command === undefined && !values.help ? ExitCode.usage : ExitCode.ok;
  }
  switch (command) {
    case 'run':
      return cmdRun(rest, values);
    case 'selftest':
      return cmdSelftest(values);
    case 'bench':
      return cmdBench(values);
    case 'build': {
      // Everything a run will need, installed now: parallel runs after this never race on apt.
      await ensureHostNeeds([...qemuNeeds, ...shellNeeds], 'running VMs');
      const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec, values.patches));
      const guest = await buildGuest(kernel);
      process.stdout.write(`kernel ${kernel.bzImage}\ninitramfs ${guest.initramfs}\n`);
      return ExitCode.ok;
    }
    case 'shell': {
      const [c] = pickCases(rest.length ? rest : ['noiommu-dma']);
      await ensureHostNeeds(shellNeeds, 'the guest shell');
      const arch = hostArch();
      const qemu = await findQemu(arch.qemu);
      const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec, values.patches));
      const guest = await buildGuest(kernel, undefined, '/bin/busybox');
      const accel = await chooseAccel(qemu, arch, kernel.bzImage);
      note(`${c!.name}'s VM on ${kernel.spec} (${accel.name.toUpperCase()}): devices bound to vfio-pci, busybox on the console; 'exit' or Ctrl-A X ends it`);
      return (await runShell(c!, kernel, guest, accel, arch, qemu, values.append)) === 0 ? ExitCode.ok : ExitCode.infra;
    }
    case 'doctor': {
      const arch = hostArch();
      const qemu = process.env.VFIO_HANDOVER_QEMU ? onPath(process.env.VFIO_HANDOVER_QEMU) : onPath(arch.qemu);
      const kernel = await resolveKernel(parseKernelSpec(values.kernel ?? defaultKernelSpec));
      const findings = await diagnose(qemu, arch, kernel);
      for (const f of findings) process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'}  ${f.what}: ${f.detail}\n`);
      return findings.every((f) => f.ok) ? ExitCode.ok : ExitCode.usage;
    }
    case 'list':
      for (const c of allCases) process.stdout.write(`${c.name.padEnd(16)} ${c.summary}\n`);
      return ExitCode.ok;
    default:
      throw new UsageError(`unknown command '${command}'\n${usage}`);
  }
}

const bisect = process.argv.includes('--bisect');
/** git bisect run: 125 means "cannot test this commit", so infrastructure must not read as bad. */
const exitWith = (code: number) => process.exit(bisect && code === ExitCode.infra ? ExitCode.bisectSkip : code);

main(process.argv.slice(2)).then(
  (code) => exitWith(code),
  (e: unknown) => {
    endStatus();
    const err = e as Error & { code?: string };
    if (err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`vfio-handover: ${err.message}\n`);
      process.exit(ExitCode.usage);
    }
    const prefix = err instanceof InfraError ? '' : 'internal error: ';
    process.stderr.write(`vfio-handover: ${prefix}${err.message}\n`);
    if (process.env.VFIO_HANDOVER_DEBUG) process.stderr.write(`${err.stack}\n`);
    exitWith(ExitCode.infra);
  },
);
