// Builds the default kernel, the reference series' kernel and the guest once (cold: minutes each,
// with progress; warm: instant) before any test.
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
  const series = await execa(cli, ['build', '--kernel', 'debian:7.3+noiommu-handover'], { stderr: 'inherit', reject: false });
  if (series.exitCode !== 0) throw new Error(`vfio-handover build --kernel debian:7.3+noiommu-handover failed (exit ${series.exitCode})`);
  project.provide('kernelImage', image);
  project.provide('kernelConfig', image.replace(/bzImage$/, 'config'));
}
