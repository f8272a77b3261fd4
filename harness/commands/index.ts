// Every subcommand, in the order the usage lists them.
import type { AnyCommand } from './options.ts';
import { runCommand } from './run.ts';
import { selftestCommand } from './selftest.ts';
import { benchCommand } from './bench.ts';
import { shellCommand } from './shell.ts';
import { doctorCommand } from './doctor.ts';
import { buildCommand } from './build.ts';
import { listCommand } from './list.ts';
import { matrixCommand } from './matrix.ts';

export const commands: AnyCommand[] = [runCommand, selftestCommand, matrixCommand, benchCommand, shellCommand, doctorCommand, buildCommand, listCommand];

/** The commands that take an option (by long name or short letter), for "run does not take --rounds (bench does)". */
export function commandsTaking(option: string): string[] {
  return commands.filter((c) => Object.entries(c.options).some(([k, o]) => k === option || o.short === option)).map((c) => c.name);
}
