// Each command declares its options from shared groups (kunit.py's add_build_opts/add_exec_opts);
// parsed strictly per command, and every value checked before anything starts.
import { parseArgs } from 'node:util';
import { claims } from '../../kernels/capabilities.ts';
import type { RequiredClaim } from '../../cases/claims.ts';
import { UsageError } from '../errors.ts';
import { join } from 'node:path';
import { defaultKernelSpec, parseKernelSpec, type KernelSpec } from '../kernel/spec.ts';
import { baseNeedOf } from '../kernel/series-base.ts';
import { repoRoot } from '../paths.ts';
import type { Phase } from '../run-case.ts';
import type { SessionRequest } from '../session.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** The value's name in the usage (SPEC, PATH, N). */
  arg?: string;
  help: string;
}
export type OptionTable = Record<string, OptionSpec>;

/** What parseArgs gives back for a table: a string, a boolean or a list, each optional. */
export type Values<O extends OptionTable> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : O[K]['multiple'] extends true ? string[] : string;
};

/** One option or positional as the command line gave it, in order (node:util parseArgs tokens). */
export type ParsedToken = { kind: 'option'; name: string; value?: string } | { kind: 'positional'; value: string } | { kind: 'option-terminator' };

/** A subcommand: its options, the check that turns them into a plan, and the run of that plan. */
export interface Command<O extends OptionTable, P> {
  name: string;
  /** Positionals as the usage shows them ('[CASE...]'); none taken when absent. */
  args?: string;
  /** Most positionals taken (unbounded when absent). */
  maxArgs?: number;
  summary: string;
  options: O;
  /** Every check on the input (UsageError), before anything is built, booted or printed; tokens keep the options' order. */
  plan(values: Values<O>, positionals: string[], tokens: ParsedToken[]): P;
  run(plan: P): Promise<number>;
  /** git bisect run: infrastructure failures exit 125 instead of 3. */
  bisect?(plan: P): boolean;
}

/** A command line checked and ready to run. */
export interface Parsed {
  run(): Promise<number>;
  bisect: boolean;
}

/** A command with its option types erased, for the registry and the CLI. */
export interface AnyCommand {
  name: string;
  args?: string;
  summary: string;
  options: OptionTable;
  /** `elsewhere(option)`: the other commands that take an option this one does not, for the message. */
  parse(argv: string[], elsewhere?: (option: string) => string[]): Parsed;
}

const help: OptionTable = { help: { type: 'boolean', short: 'h', help: "this command's usage" } };

export const kernelOptions = {
  kernel: {
    type: 'string',
    arg: 'SPEC',
    help: `${defaultKernelSpec}[+SERIES] (default ${defaultKernelSpec}) | tree:PATH | image:PATH[,config=PATH][,headers=DIR]`,
  },
  patches: { type: 'string', arg: 'PATH', help: 'an mbox or a folder of patches, applied with git am onto a copy of the --kernel source' },
  'series-base': {
    type: 'string',
    arg: 'PATH',
    help: "the patches a series sits on (its folder's series-base file names them), applied before it; required for such a series",
  },
} satisfies OptionTable;

/** Options of every command that boots case VMs through a session. */
export const vmOptions = {
  'next-kernel': { type: 'string', arg: 'SPEC', help: 'the kernel stage 1 kexecs into (upgrade and downgrade paths)' },
  results: { type: 'string', arg: 'DIR', help: 'write results/<run-id> under DIR (default: results/)' },
  append: { type: 'string', arg: 'WORDS', help: 'extra guest kernel command-line words (they win over ours)' },
  timeout: { type: 'string', multiple: true, arg: 'PHASE=S', help: `seconds of silence allowed in a phase (${phaseNames().join(', ')})` },
} satisfies OptionTable;

/** Options of the commands whose output is a TAP stream of verdicts. */
export const reportOptions = {
  tap: { type: 'boolean', help: 'TAP on stdout even on a terminal' },
  require: { type: 'string', multiple: true, arg: 'CLAIM', help: `a SKIP for this kernel claim is a failure (${Object.keys(claims).join(', ')}; CLAIM@iommu: in iommu mode); repeatable` },
} satisfies OptionTable;

function phaseNames(): Phase[] {
  return ['qemu-start', 'boot', 'case', 'kexec', 'poweroff'];
}

/** The kernel the options name: --kernel (or the default) with --patches and --series-base, its syntax and paths checked. */
export function kernelSpecOf(values: { kernel?: string; patches?: string; 'series-base'?: string }): KernelSpec {
  return parseKernelSpec(values.kernel ?? defaultKernelSpec, values.patches, values['series-base']);
}

/** --next-kernel: a named series that sits on a base takes the same --series-base. */
function nextKernelSpec(text: string, seriesBase?: string): KernelSpec {
  return parseKernelSpec(text, undefined, seriesBase !== undefined && specNeedsBase(text) ? seriesBase : undefined);
}

/** Whether a spec's named series (debian:X.Y+NAME) names a base; the spec's syntax is checked later. */
export function specNeedsBase(text: string, patches?: string): boolean {
  const named = /^debian:\d+\.\d+\+([A-Za-z0-9._-]+)$/.exec(text)?.[1];
  return baseNeedOf(named ? join(repoRoot, 'kernels', 'patches', named) : patches) !== undefined;
}

/** The session the options ask for: both kernels and the timeouts, checked. */
export function sessionRequestOf(values: Values<typeof kernelOptions & typeof vmOptions>): SessionRequest {
  const next = values['next-kernel'];
  return { kernel: kernelSpecOf(values), next: next === undefined ? undefined : nextKernelSpec(next, values['series-base']), timeouts: parseTimeouts(values.timeout) };
}

/** --timeout PHASE=SECONDS: seconds of silence allowed in a phase. */
export function parseTimeouts(words: string[] = []): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  for (const w of words) {
    const m = /^([a-z-]+)=(\d+(?:\.\d+)?)$/.exec(w);
    const phase = m?.[1] as Phase | undefined;
    if (!m || !phase || !phaseNames().includes(phase)) {
      throw new UsageError(`--timeout takes PHASE=SECONDS with PHASE one of ${phaseNames().join(', ')}, not '${w}'`);
    }
    out[phase] = Number(m[2]);
  }
  return out;
}

/** --require CLAIM[@iommu]: only claims the harness knows, in no-IOMMU mode unless @iommu says otherwise. */
export function parseRequire(names: string[] = []): RequiredClaim[] {
  for (const n of names) {
    const [claim, at, more] = n.split('@');
    if (!(claim! in claims) || (at !== undefined && at !== 'iommu') || more !== undefined)
      throw new UsageError(`unknown claim '${n}' for --require: known claims are ${Object.keys(claims).join(', ')}, each optionally @iommu`);
  }
  return names as RequiredClaim[];
}

/** Parses one command's arguments strictly: an option it does not take is a UsageError naming both. */
export function parseCommandLine<O extends OptionTable>(c: Command<O, unknown>, argv: string[], elsewhere: (option: string) => string[] = () => []) {
  const options: OptionTable = { ...c.options, ...help };
  const config = Object.fromEntries(
    Object.entries(options).map(([k, o]) => [k, { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) }]),
  );
  const loose = parseArgs({ args: argv, options: config, strict: false, allowPositionals: true, tokens: true });
  for (const t of loose.tokens) {
    if (t.kind !== 'option' || t.name in options) continue;
    const others = elsewhere(t.name);
    if (others.length) throw new UsageError(`${c.name} does not take ${t.rawName} (${others.join(', ')} ${others.length > 1 ? 'do' : 'does'})`);
    throw new UsageError(`Unknown option '${t.rawName}' for ${c.name}: 'vfio-handover ${c.name} --help' lists its options`);
  }
  try {
    const { values, positionals, tokens } = parseArgs({ args: argv, options: config, strict: true, allowPositionals: c.args !== undefined, tokens: true });
    if (c.maxArgs !== undefined && positionals.length > c.maxArgs) {
      throw new UsageError(`${c.name} takes at most ${c.maxArgs} argument${c.maxArgs === 1 ? '' : 's'} (${c.args}), not ${positionals.length}`);
    }
    return { values: values as Values<O> & { help?: boolean }, positionals, tokens: tokens as ParsedToken[] };
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError(`${c.name}: ${(e as Error).message}`);
    throw e;
  }
}

/** One command's usage: its line, then each option with its help. */
export function commandUsage(c: Pick<AnyCommand, 'name' | 'args' | 'summary' | 'options'>): string {
  const rows = Object.entries<OptionSpec>({ ...c.options, ...help }).map(([k, o]) => [`${o.short ? `-${o.short}, ` : ''}--${k}${o.arg ? ` ${o.arg}` : ''}`, o.help]);
  const w = Math.max(...rows.map((r) => r[0]!.length));
  return [`usage: vfio-handover ${c.name}${c.args ? ` ${c.args}` : ''} [options]`, `  ${c.summary}`, ...rows.map(([a, h]) => `    ${a!.padEnd(w)}  ${h}`)].join('\n');
}

/** Erases a command's option types: parse checks everything and returns the ready run. */
export function defineCommand<O extends OptionTable, P>(c: Command<O, P>): AnyCommand {
  return {
    name: c.name,
    args: c.args,
    summary: c.summary,
    options: c.options,
    parse(argv, elsewhere) {
      const { values, positionals, tokens } = parseCommandLine(c, argv, elsewhere);
      if (values.help) return { bisect: false, run: async () => (process.stdout.write(`${commandUsage(c)}\n`), 0) };
      const plan = c.plan(values, positionals, tokens);
      return { bisect: c.bisect?.(plan) ?? false, run: () => c.run(plan) };
    },
  };
}
