// A directory lock so two runs never build the same cache entry at once.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { note } from '../progress.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function withLock<T>(path: string, body: () => Promise<T>): Promise<T> {
  let told = false;
  for (;;) {
    try {
      mkdirSync(path, { recursive: false });
      writeFileSync(join(path, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        mkdirSync(join(path, '..'), { recursive: true });
        continue;
      }
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(path, 'pid'), 'utf8'));
      } catch {
        /* being created */
      }
      if (owner && !alive(owner)) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (!told) note(`waiting for another run (pid ${owner}) to finish ${path.replace(/\.lock$/, '')}`);
      told = true;
      await sleep(1000);
    }
  }
  try {
    return await body();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}
