// Builds every kernel the e2e files boot, and the guest, once and one at a time before any test
// (cold: minutes each, with progress; warm: instant), so no test builds while VMs boot beside it.
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { cli } from './cli.ts';
import { otherKernels } from './kernels.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kernelImage: string;
    kernelConfig: string;
    /** The unpacked Debian source the default kernel was built from (its tools/testing/kunit included). */
    kernelSource: string;
  }
}

async function build(args: string[]): Promise<string> {
  const r = await execa(cli, ['build', ...args], { stderr: 'inherit', reject: false });
  if (r.exitCode !== 0) throw new Error(`vfio-handover build ${args.join(' ')} failed (exit ${r.exitCode})`);
  return r.stdout;
}

export default async function setup(project: TestProject): Promise<void> {
  const out = await build([]);
  const image = /^kernel (.+)$/m.exec(out)?.[1];
  const source = /^source (.+)$/m.exec(out)?.[1];
  if (!image || !source) throw new Error(`vfio-handover build printed no kernel or source path: ${out}`);
  for (const args of await otherKernels()) await build(args);
  project.provide('kernelImage', image);
  project.provide('kernelConfig', image.replace(/bzImage$/, 'config'));
  project.provide('kernelSource', source);
}
