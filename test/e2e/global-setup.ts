// Builds the default kernel and guest once (cold: minutes, with progress; warm: instant) before any test.
import { execa } from 'execa';
import type { TestProject } from 'vitest/node';
import { cli } from './cli.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kernelImage: string;
    kernelConfig: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const r = await execa(cli, ['build'], { stderr: 'inherit', reject: false });
  if (r.exitCode !== 0) throw new Error(`vfio-handover build failed (exit ${r.exitCode})`);
  const image = /^kernel (.+)$/m.exec(r.stdout)?.[1];
  if (!image) throw new Error(`vfio-handover build printed no kernel path: ${r.stdout}`);
  project.provide('kernelImage', image);
  project.provide('kernelConfig', image.replace(/bzImage$/, 'config'));
}
