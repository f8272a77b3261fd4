// Which cases this runner takes (--shard) and how many VMs run at once (--jobs).
import { availableParallelism, freemem } from 'node:os';
import { UsageError } from './errors.ts';

/** One VM per core, and no more than free memory holds at 1 GiB each (QEMU plus a 512 MiB guest). */
export function defaultJobs(): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(freemem() / 2 ** 30)));
}

export function parseJobs(text?: string): number {
  if (text === undefined) return defaultJobs();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--jobs takes a whole number of VMs, at least 1, not '${text}'`);
  return n;
}

/** --shard I/N: this runner's share, every Nth case starting at the Ith, so shards never overlap. */
export function shard<T>(items: T[], spec?: string): T[] {
  if (spec === undefined) return items;
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const i = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || i < 1 || i > n) throw new UsageError(`--shard takes I/N with 1 <= I <= N, not '${spec}'`);
  return items.filter((_, k) => k % n === i - 1);
}

/** Runs tasks with at most `jobs` at once, the costliest first; `done` is called in input order, as soon as order allows. */
export async function inOrderPool<T, R>(
  items: T[],
  jobs: number,
  work: (item: T, index: number) => Promise<R>,
  done: (r: R, index: number) => void,
  cost: (item: T) => number = () => 1,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const finished: boolean[] = new Array(items.length).fill(false);
  const order = items.map((_, i) => i).sort((a, b) => cost(items[b]!) - cost(items[a]!) || a - b);
  let next = 0;
  let flushed = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = order[next++]!;
      results[i] = await work(items[i]!, i);
      finished[i] = true;
      while (flushed < items.length && finished[flushed]) {
        done(results[flushed]!, flushed);
        flushed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return results;
}

/** Rough relative run time of a case: boots, and the DMA each stage does (100 ms per edu transfer). */
export function caseCost(c: { stages: unknown[]; devices: { model: string }[]; numaNodes?: number }): number {
  const dma = c.devices.some((d) => d.model === 'edu') ? 1 : 0;
  return c.stages.length * (1 + dma) + (c.numaNodes ?? 1) - 1;
}
