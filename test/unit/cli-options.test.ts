// Each command parses its own options strictly and checks every value before anything runs.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { commands, commandsTaking } from '../../harness/commands/index.ts';
import { commandUsage } from '../../harness/commands/options.ts';
import { UsageError } from '../../harness/errors.ts';

const command = (name: string) => commands.find((c) => c.name === name)!;
const parse = (name: string, argv: string[]) => command(name).parse(argv, commandsTaking);

/** The UsageError a command line is refused with (exit 2), or a failure when it is accepted. */
function refusal(name: string, argv: string[]): string {
  try {
    parse(name, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`${name} ${argv.join(' ')} was accepted`);
}

afterEach(() => vi.restoreAllMocks());

describe('per-command options', () => {
  it('every command refuses an option only another command takes, naming the option and the command', () => {
    const all = [...new Set(commands.flatMap((c) => Object.keys(c.options)))];
    for (const c of commands) {
      const foreign = all.filter((o) => !(o in c.options));
      expect(foreign.length, c.name).toBeGreaterThan(0);
      for (const o of foreign) {
        const value = commands.find((x) => o in x.options)!.options[o]!.type === 'string' ? ['x'] : [];
        expect(refusal(c.name, [`--${o}`, ...value])).toMatch(new RegExp(`^${c.name} does not take --${o} \\(`));
      }
    }
  });

  it('run --rounds 3 is refused: rounds is bench\'s', () => {
    expect(refusal('run', ['--rounds', '3'])).toBe('run does not take --rounds (bench does)');
  });

  it('an option no command takes keeps parseArgs\' wording and names the command', () => {
    expect(refusal('run', ['--frobnicate'])).toMatch(/^Unknown option '--frobnicate' for run/);
  });

  it('run --timeout boot=abc is refused while parsing, before anything is printed or started', () => {
    const write = vi.spyOn(process.stdout, 'write');
    expect(refusal('run', ['boot', '--timeout', 'boot=abc'])).toMatch(/^--timeout takes PHASE=SECONDS .* not 'boot=abc'$/);
    expect(write).not.toHaveBeenCalled();
  });

  it('every value is checked at parse time: jobs, shard, require, cases, kernel spec, patches path, rounds', () => {
    expect(refusal('run', ['--jobs', '0'])).toMatch(/^--jobs takes a whole number/);
    expect(refusal('run', ['--shard', '4/3'])).toMatch(/^--shard takes I\/N/);
    expect(refusal('run', ['--require', 'teleport'])).toMatch(/^unknown claim 'teleport'/);
    expect(refusal('run', ['--require', 'vfio-preserve@somewhere'])).toMatch(/^unknown claim 'vfio-preserve@somewhere'.*each optionally @iommu/);
    expect(refusal('run', ['no-such-case'])).toMatch(/^unknown case 'no-such-case'/);
    expect(refusal('run', ['--kernel', 'ubuntu:99'])).toMatch(/^unknown kernel spec 'ubuntu:99'/);
    expect(refusal('run', ['--next-kernel', 'image:/nonexistent/bzImage'])).toBe('kernel image not found: /nonexistent/bzImage');
    expect(refusal('build', ['--patches', '/nonexistent/series'])).toBe('patch series not found: /nonexistent/series');
    expect(refusal('bench', ['--rounds', '0'])).toMatch(/^--rounds takes a whole number/);
    expect(refusal('shell', ['boot', 'noiommu-dma'])).toMatch(/^shell takes at most 1 argument/);
    expect(refusal('list', ['boot'])).toMatch(/^list: Unexpected argument 'boot'/);
  });

  it('--bisect is a run option, read from the parsed values', () => {
    expect(parse('run', ['boot', '--bisect']).bisect).toBe(true);
    expect(parse('run', ['boot']).bisect).toBe(false);
    expect(refusal('bench', ['--bisect'])).toBe('bench does not take --bisect (run does)');
  });

  it('-h prints that command\'s usage, every option in it, and runs nothing else', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await parse('run', ['-h']).run()).toBe(0);
    const text = String(write.mock.calls[0]![0]);
    expect(text).toBe(`${commandUsage(command('run'))}\n`);
    for (const o of Object.keys(command('run').options)) expect(text).toContain(`--${o}`);
  });
});
