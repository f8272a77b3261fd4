// lifecycle-pressure-before-map judged from recorded real runs (issue 18's bug 6): between RETRIEVE_FD and
// IOMMU_IOAS_MAP_FILE the observer pushes the retrieved memfd's pages to the other NUMA node; they must not move.
import { describe, expect, it } from 'vitest';
import c from '../../cases/lifecycle-pressure-before-map.ts';
import vfioHandover from '../../cases/vfio-handover.ts';
import { claimOfAssertion } from '../../cases/claims.ts';
import { judge } from '../../harness/verdict.ts';
import { recordedObservation } from './fixtures.ts';
import { withFailed, withPassed } from './ktap-edit.ts';

const failed = (dir: string) => judge(c, recordedObservation(dir, c)).assertions.filter((a) => !a.ok);
/** The observer's pressure lines of stage 2: the control buffer's, then the retrieved memfd's. */
const pressureLines = (dir: string) => recordedObservation(dir, c).resultLines.filter((l) => /^# vh pressure_(unpinned|before_map)=/.test(l));

describe('lifecycle-pressure-before-map: the retrieved memfd pushed to the other node before it is mapped again', () => {
  it('reference series v2 (0009 keeps a reference on each retrieved folio): the kernel tries every page and migrates none; stage 1 PAs after the map', () => {
    const o = recordedObservation('lifecycle-pressure-before-map-v2', c);
    expect(judge(c, o).status).toBe('pass');
    // The pressure is real: the unpinned buffer of the same size moved, page by page; the retrieved pages were tried and held.
    expect(pressureLines('lifecycle-pressure-before-map-v2')).toEqual([
      expect.stringMatching(/to node1 .*: 4 moved, 0 not migrated, 0 refused; pages after: node1 x4; each page \(M moved, H held, R refused\): MMMM$/),
      expect.stringMatching(/to node1 .*: 0 moved, 4 not migrated, 0 refused; pages after: node0 x4; each page \(M moved, H held, R refused\): HHHH$/),
    ]);
    expect(o.resultLines).toContain('# vh pages_stayed_put=4/4');
  });

  it('the old reference series (noiommu-handover): every retrieved page migrates, and GET_PA after the map gives new addresses (bug 6 reproduced)', () => {
    expect(failed('lifecycle-pressure-before-map-reference')).toMatchObject([
      { name: 'stage2/retrieved_pages_stay_put', diag: { seen: expect.stringMatching(/^4 of 4 pages moved to node1 \(.*: MMMM\)$/) } },
      { name: 'stage2/pa_unchanged_across_kexec', diag: { seen: expect.stringMatching(/^4 of 4 pages moved; page 0: 0x[0-9a-f]+, was 0x[0-9a-f]+$/) } },
    ]);
    // The same stream with the two reports turned ok passes: nothing else tells the kernels apart.
    const o = recordedObservation('lifecycle-pressure-before-map-reference', c);
    const edited = ['retrieved_pages_stay_put', 'pa_unchanged_across_kexec'].reduce((l, n) => withPassed(l, n, 2), o.resultLines);
    expect(judge(c, { ...o, resultLines: edited }).status).toBe('pass');
  });

  it('upstream VFIO v5 lets them migrate too (besides handing the device over reset)', () => {
    const names = failed('lifecycle-pressure-before-map-upstream').map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(['stage2/retrieved_pages_stay_put', 'stage2/pa_unchanged_across_kexec', 'stage2/bus_master_before_open']));
  });

  it('numa=off (one node, the control): no pressure can be applied, so neither the control buffer nor the retrieved memfd passes', () => {
    expect(failed('lifecycle-pressure-before-map-v2-numa-off')).toMatchObject([
      { name: 'stage2/pressure_moves_unpinned', diag: { seen: expect.stringMatching(/^0 of 4 pages moved \(.*no other node with memory to move them to\)$/) } },
      { name: 'stage2/retrieved_pages_stay_put', diag: { seen: expect.stringMatching(/^no pressure applied to 4 of 4 pages \(.*no other node with memory to move them to\)$/) } },
    ]);
  });

  it('fails when the agent reports the retrieved pages moved, on the passing stream (the recorded-stream control)', () => {
    const o = recordedObservation('lifecycle-pressure-before-map-v2', c);
    const r = judge(c, { ...o, resultLines: withFailed(o.resultLines, 'retrieved_pages_stay_put', 2) });
    expect(r.status).toBe('fail');
    expect(r.assertions.filter((a) => !a.ok).map((a) => a.name)).toEqual(['stage2/retrieved_pages_stay_put']);
  });

  it('here a changed PA stands for vfio-running (only a device still writing the old pages is hurt), elsewhere for memfd-preserve', () => {
    expect(claimOfAssertion(c, 2, 'pa_unchanged_across_kexec')).toBe('vfio-running');
    expect(claimOfAssertion(vfioHandover, 2, 'pa_unchanged_across_kexec')).toBe('memfd-preserve');
  });
});
