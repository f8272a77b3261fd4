// vfio-handover: the command line. Picks the command, which parses and checks its own options,
// runs it, and maps outcomes to exit codes; never a stack trace.
import { ExitCode, InfraError, UsageError } from './errors.ts';
import { endStatus } from './progress.ts';
import { commands, commandsTaking } from './commands/index.ts';
import { commandUsage, type AnyCommand, type Parsed } from './commands/options.ts';

function usage(): string {
  const w = Math.max(...commands.map((c) => `${c.name} ${c.args ?? ''}`.length));
  const rows = commands.map((c) => `  ${`${c.name} ${c.args ?? ''}`.padEnd(w)}  ${c.summary}`);
  return ['usage: vfio-handover <command> [options]', ...rows, "'vfio-handover help COMMAND' or 'vfio-handover COMMAND -h': that command's options"].join('\n');
}

function commandNamed(name: string): AnyCommand {
  const c = commands.find((x) => x.name === name);
  if (!c) throw new UsageError(`unknown command '${name}': 'vfio-handover help' lists the commands`);
  return c;
}

/** The command line checked, nothing started: a UsageError here is exit 2 with nothing on stdout. */
function parse(argv: string[]): Parsed {
  const [first, ...rest] = argv;
  const print = (text: string, code: number): Parsed => ({ bisect: false, run: async () => (process.stdout.write(`${text}\n`), code) });
  if (first === undefined) return print(usage(), ExitCode.usage);
  if (first === 'help' || first === '-h' || first === '--help') return print(rest[0] ? commandUsage(commandNamed(rest[0])) : usage(), ExitCode.ok);
  if (first.startsWith('-')) throw new UsageError(`options come after the command (vfio-handover COMMAND [options]), not before: '${first}'`);
  return commandNamed(first).parse(rest, commandsTaking);
}

let bisect = false;
/** git bisect run: 125 means "cannot test this commit", so infrastructure must not read as bad. */
const exitWith = (code: number) => process.exit(bisect && code === ExitCode.infra ? ExitCode.bisectSkip : code);

async function main(argv: string[]): Promise<number> {
  const parsed = parse(argv);
  bisect = parsed.bisect;
  return parsed.run();
}

main(process.argv.slice(2)).then(
  (code) => exitWith(code),
  (e: unknown) => {
    endStatus();
    const err = e as Error;
    if (err instanceof UsageError) {
      process.stderr.write(`vfio-handover: ${err.message}\n`);
      process.exit(ExitCode.usage);
    }
    const prefix = err instanceof InfraError ? '' : 'internal error: ';
    process.stderr.write(`vfio-handover: ${prefix}${err.message}\n`);
    if (process.env.VFIO_HANDOVER_DEBUG) process.stderr.write(`${err.stack}\n`);
    exitWith(ExitCode.infra);
  },
);
