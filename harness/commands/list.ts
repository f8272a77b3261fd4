// vfio-handover list: the cases, one a line.
import { allCases } from '../../cases/index.ts';
import { ExitCode } from '../errors.ts';
import { defineCommand } from './options.ts';

export const listCommand = defineCommand({
  name: 'list',
  summary: 'list the cases',
  options: {},
  plan: () => undefined,
  async run() {
    for (const c of allCases) process.stdout.write(`${c.name.padEnd(16)} ${c.summary}\n`);
    return ExitCode.ok;
  },
});
