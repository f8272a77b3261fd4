// The nightly CI files users copy (.github/workflows/nightly.yml, ci/gitlab/nightly.gitlab-ci.yml):
// valid for their CI, running the harness's real commands and options, sharding the whole suite.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allCases } from '../../cases/index.ts';
import { repoRoot } from '../../harness/paths.ts';
import { ResultsDir } from '../../harness/results.ts';
import { shard } from '../../harness/schedule.ts';
import { commands } from '../../harness/commands/index.ts';

const githubPath = join(repoRoot, '.github', 'workflows', 'nightly.yml');
const gitlabPath = join(repoRoot, 'ci', 'gitlab', 'nightly.gitlab-ci.yml');
const githubText = readFileSync(githubPath, 'utf8');
const gitlabText = readFileSync(gitlabPath, 'utf8');

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => {
  expect(v, 'expected a mapping').toBeTypeOf('object');
  return v as Obj;
};
const gh = obj(parse(githubText));
const gl = obj(parse(gitlabText));

const scratch = mkdtempSync(join(tmpdir(), 'vh-ci-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** @action-validator/cli, as installed: exit status and what it printed. */
function actionValidator(file: string): { status: number | null; out: string } {
  const bin = join(repoRoot, 'node_modules', '.bin', 'action-validator');
  const r = spawnSync(process.execPath, [bin, file], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Obj;
  'continue-on-error'?: unknown;
}
const ghJobs = obj(gh.jobs);
const ghJob = (id: string) => obj(ghJobs[id]);
const steps = (id: string) => ghJob(id).steps as Step[];
const runLines = (id: string) => steps(id).flatMap((s) => (s.run ? [s.run] : []));
const uses = (id: string, action: string) => steps(id).filter((s) => s.uses?.startsWith(`${action}@`));

/** Every harness invocation in a script line: the command and its --options. */
function harnessCalls(lines: string[]): { command: string; options: string[]; line: string }[] {
  return lines.flatMap((l) =>
    [...l.matchAll(/\.\/vfio-handover\s+(\w+)([^\n;&|]*)/g)].map((m) => ({
      command: m[1]!,
      options: [...m[2]!.matchAll(/--([a-z-]+)/g)].map((o) => o[1]!),
      line: l,
    })),
  );
}

/** The harness's own commands and their option tables, so a renamed option breaks this test, not the nightly run. */
function cliKnows(call: { command: string; options: string[] }): void {
  const c = commands.find((x) => x.name === call.command);
  expect(c, `vfio-handover has no command '${call.command}'`).toBeDefined();
  for (const o of call.options) expect(Object.keys(c!.options), `vfio-handover ${call.command} takes no option --${o}`).toContain(o);
}

/** The one line each CI file installs by hand: what a bare Debian image lacks to start the harness. */
const nodeLine = 'apt-get update -q && apt-get install -y -q --no-install-recommends nodejs npm git';

describe('GitHub Actions nightly workflow', () => {
  it('is accepted by action-validator', () => {
    const r = actionValidator(githubPath);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  it('a broken copy is rejected by action-validator (the check can fail)', () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(broken, githubText.replace(/^(\s+)runs-on:/m, '$1run-on:'));
    const r = actionValidator(broken);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/run-on/);
  });

  it('runs nightly and by hand', () => {
    const on = obj(gh.on);
    expect(on.schedule).toEqual([{ cron: expect.stringMatching(/^\S+ \S+ \* \* \*$/) }]);
    expect(on).toHaveProperty('workflow_dispatch');
  });

  it('builds once, in a root Debian container with /dev/kvm, and hands the cache to the shards of this run', () => {
    for (const id of ['build', 'shard']) {
      const container = obj(ghJob(id).container);
      expect(container.image).toMatch(/^debian:/);
      expect(String(container.options)).toMatch(/--device \/dev\/kvm|--privileged/);
      expect(String(container.options)).not.toMatch(/--user/);
    }
    expect(harnessCalls(runLines('build')).map((c) => c.command)).toContain('build');
    expect(harnessCalls(runLines('shard')).map((c) => c.command)).toEqual(['run']);
    expect(ghJob('shard').needs).toBe('build');

    const env = obj(gh.env);
    expect(env.VFIO_HANDOVER_CACHE).toMatch(/^\//);
    const [save] = uses('build', 'actions/cache/save');
    const [restore] = uses('shard', 'actions/cache/restore');
    expect(save?.with?.path).toBe('${{ env.VFIO_HANDOVER_CACHE }}');
    expect(restore?.with?.path).toBe(save?.with?.path);
    expect(restore?.with?.key).toBe(save?.with?.key);
    expect(String(save?.with?.key)).toContain('${{ github.run_id }}');
    expect(restore?.with?.['fail-on-cache-miss']).toBe(true);
    // The save comes after the build, the restore before the run.
    const order = (id: string, pred: (s: Step) => boolean) => steps(id).findIndex(pred);
    expect(order('build', (s) => s === save)).toBeGreaterThan(order('build', (s) => /vfio-handover build/.test(s.run ?? '')));
    expect(order('shard', (s) => s === restore)).toBeLessThan(order('shard', (s) => /vfio-handover run/.test(s.run ?? '')));
  });

  it('installs by hand only Node, npm and git; the harness installs the rest as root', () => {
    for (const id of ['build', 'shard']) {
      const apt = runLines(id).filter((l) => /apt(-get)?\s/.test(l));
      expect(apt).toEqual([nodeLine]);
    }
    expect(githubText).not.toMatch(/sudo|https?:\/\/|setup-node/);
  });

  it('calls the harness with commands and options it has', () => {
    const calls = harnessCalls(Object.keys(ghJobs).flatMap(runLines));
    expect(calls.length).toBeGreaterThanOrEqual(3);
    for (const c of calls) cliKnows(c);
    const [run] = harnessCalls(runLines('shard'));
    expect(run?.line).toContain('--shard "${{ matrix.shard }}/$SHARDS"');
    expect(run?.options).toEqual(expect.arrayContaining(['kernel', 'shard', 'tap', 'results']));
    expect(run?.line).toMatch(/--results results(\s|$)/);
  });

  it('fails the job on exit 1, 2 and 3, and only on those: nothing swallows the status, SKIPs exit 0', () => {
    for (const id of ['build', 'shard']) {
      for (const s of steps(id).filter((x) => /\.\/vfio-handover/.test(x.run ?? ''))) {
        expect(s['continue-on-error'], s.run).toBeUndefined();
        expect(s.if, s.run).toBeUndefined();
        expect(s.run).not.toMatch(/\|\||set \+e|; *true|\|/);
      }
      expect(ghJob(id)['continue-on-error']).toBeUndefined();
    }
    expect(obj(obj(ghJob('shard').strategy))['fail-fast']).toBe(false);
  });

  it('uploads results/ and publishes junit.xml even when a shard failed', () => {
    const [up] = uses('shard', 'actions/upload-artifact');
    expect(up?.if).toBe('always()');
    expect(up?.with?.path).toBe('results/');
    expect(String(up?.with?.name)).toContain('${{ matrix.shard }}');
    const drop = steps('shard').find((s) => s.run === 'rm -f results/latest');
    expect(drop?.if).toBe('always()');
    expect(steps('shard').indexOf(drop!)).toBeLessThan(steps('shard').indexOf(up!));

    const junit = ghJob('junit');
    expect(junit.needs).toEqual(expect.arrayContaining(['shard']));
    expect(String(junit.if)).toContain('!cancelled()');
    expect(obj(junit.permissions).checks).toBe('write');
    const [down] = uses('junit', 'actions/download-artifact');
    expect(down?.with?.pattern).toBe(`${String(up?.with?.name).replace('${{ matrix.shard }}', '')}*`);
    const [report] = uses('junit', 'mikepenz/action-junit-report');
    // download-artifact puts each artifact in <path>/<name>/; the harness writes <results>/<run-id>/junit.xml.
    expect(report?.with?.report_paths).toBe(`${String(down?.with?.path)}/${String(down?.with?.pattern)}/*/junit.xml`);
  });
});

describe('GitLab CI nightly job', () => {
  const jobs = Object.fromEntries(Object.entries(gl).filter(([k]) => !['stages', 'variables', 'include', 'default', 'workflow'].includes(k) && !k.startsWith('.')));
  const base = obj(gl['.vfio-handover']);
  const job = (id: string) => ({ ...base, ...obj(jobs[id]) }) as Obj & { script: string[]; cache: Obj };
  const build = job('vfio-handover-build');
  const shards = job('vfio-handover');

  it('has a build stage and a test stage, each job extending the Debian template', () => {
    expect(gl.stages).toEqual(['build', 'test']);
    expect(Object.keys(jobs).sort()).toEqual(['vfio-handover', 'vfio-handover-build']);
    for (const j of Object.values(jobs)) expect(obj(j).extends).toBe('.vfio-handover');
    expect(build.stage).toBe('build');
    expect(shards.stage).toBe('test');
    expect(shards.needs).toEqual(['vfio-handover-build']);
    expect(base.image).toMatch(/^debian:/);
    expect(base.before_script).toEqual([nodeLine]);
    expect(gitlabText).not.toMatch(/sudo|https?:\/\//);
  });

  it('builds once and hands the cache to this pipeline\'s shards', () => {
    const vars = obj(base.variables);
    expect(vars.VFIO_HANDOVER_CACHE).toBe('$CI_PROJECT_DIR/.vfio-handover-cache');
    expect(build.cache.policy).toBe('push');
    expect(shards.cache.policy).toBe('pull');
    expect(shards.cache.key).toBe(build.cache.key);
    expect(String(build.cache.key)).toContain('$CI_PIPELINE_ID');
    expect(build.cache.paths).toEqual(['.vfio-handover-cache/']);
    expect(shards.cache.paths).toEqual(build.cache.paths);
  });

  it('calls the harness with commands and options it has, and nothing swallows the exit status', () => {
    const calls = harnessCalls([...build.script, ...shards.script]);
    expect(calls.map((c) => c.command)).toEqual(['build', 'doctor', 'run']);
    for (const c of calls) cliKnows(c);
    expect(calls[2]?.line).toContain('--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"');
    expect(calls[2]?.line).toMatch(/--tap .*--results results(\s|$)/);
    for (const l of [...build.script, ...shards.script]) expect(l).not.toMatch(/\|\||set \+e|; *true|\|/);
    for (const j of [base, build, shards]) expect(j).not.toHaveProperty('allow_failure');
  });

  it('keeps results/ and publishes junit.xml to the Tests tab, whatever the exit status', () => {
    const artifacts = obj(shards.artifacts);
    expect(artifacts.when).toBe('always');
    expect(artifacts.paths).toEqual(['results/']);
    expect(obj(artifacts.reports).junit).toBe('results/*/junit.xml');
    expect(shards.after_script).toEqual(['rm -f results/latest']);
  });
});

describe('the CI files shard the suite the same way', () => {
  const ghN = Number(obj(gh.env).SHARDS);
  const ghI = obj(obj(ghJob('shard').strategy).matrix).shard as number[];
  const glN = obj(gl['vfio-handover']).parallel;

  it('both run N shards, and the GitHub matrix lists every I in 1..N exactly once', () => {
    expect(Number.isInteger(ghN) && ghN >= 1).toBe(true);
    expect(glN).toBe(ghN);
    expect([...ghI].sort((a, b) => a - b)).toEqual(Array.from({ length: ghN }, (_, k) => k + 1));
  });

  it('those shards together are the whole suite, no case twice', () => {
    const suite = allCases.map((c) => c.name);
    const ran = ghI.flatMap((i) => shard(suite, `${i}/${ghN}`));
    expect([...ran].sort()).toEqual([...suite].sort());
    expect(new Set(ran).size).toBe(ran.length);
    for (const i of ghI) expect(shard(suite, `${i}/${ghN}`).length, `shard ${i}/${ghN} is empty`).toBeGreaterThan(0);
  });

  it('the harness writes <results>/<run-id>/junit.xml one level down, and latest is a symlink (both CI files rely on it)', () => {
    const dir = join(scratch, 'results');
    const r = new ResultsDir(dir);
    expect(relative(dir, r.dir)).not.toContain(sep);
    expect(lstatSync(join(dir, 'latest')).isSymbolicLink()).toBe(true);
  });
});
