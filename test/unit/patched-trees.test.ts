// check-series drops each prefix's patched source copy once judged: only that series' copies go, under every base.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropPatchedTrees, loadSeries } from '../../harness/kernel/patches.ts';

const fixtures = resolve(import.meta.dirname, '..', 'fixtures');

const made: string[] = [];
afterEach(() => made.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('dropPatchedTrees', () => {
  it("removes the series' patched copies and nothing else", () => {
    const cache = mkdtempSync(join(tmpdir(), 'vh-patched-'));
    made.push(cache);
    const series = loadSeries(join(fixtures, 'patches-good'));
    const other = loadSeries(join(fixtures, 'patches-bad'));
    const patched = join(cache, 'src', 'patched');
    for (const d of [`7.3.4-1_bpo13+1+${series.hash}`, `7.2.1+${series.hash}`, `7.3.4-1_bpo13+1+${other.hash}`]) {
      mkdirSync(join(patched, d, 'linux'), { recursive: true });
      writeFileSync(join(patched, d, '.applied'), '');
    }
    expect(dropPatchedTrees(series, cache).sort()).toEqual([`7.2.1+${series.hash}`, `7.3.4-1_bpo13+1+${series.hash}`]);
    expect(readdirSync(patched)).toEqual([`7.3.4-1_bpo13+1+${other.hash}`]);
    expect(dropPatchedTrees(series, join(cache, 'none'))).toEqual([]);
  });
});
