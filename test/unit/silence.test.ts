// Phase timeouts count the guest's silence, not the harness's own stalls.
import { describe, expect, it } from 'vitest';
import { Silence } from '../../harness/silence.ts';

describe('guest silence', () => {
  it('grows tick by tick while nothing arrives, and restarts on progress', () => {
    const s = new Silence(0, 250);
    for (let t = 250; t <= 60_000; t += 250) s.tick(t);
    expect(s.tick(60_250)).toBe(60_250);
    s.progress(60_300);
    expect(s.tick(60_500)).toBe(200);
  });

  it('does not count 90 s in which the harness itself was not scheduled', () => {
    const s = new Silence(0, 250);
    s.tick(250);
    expect(s.tick(90_500)).toBeLessThan(1000);
  });
});
