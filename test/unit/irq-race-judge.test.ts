// The agent's verdict on lifecycle-irq-after-freeze's race log (guests/agent/irq_race_judge.c), compiled for the host and
// run on logs made to each of its rules: a correct kernel's log passes, every other shape fails or says the race never ran.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'vh-irq-judge-'));
let lines = new Map<string, { ok: boolean; ran: boolean; text: string }>();

beforeAll(() => {
  const bin = join(dir, 'cases');
  const agent = join(root, 'guests', 'agent');
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-I', agent, '-o', bin, join(root, 'test', 'unit', 'c', 'irq_race_judge_cases.c'), join(agent, 'irq_race_judge.c')]);
  const out = execFileSync(bin, { encoding: 'utf8' });
  lines = new Map(out.trim().split('\n').map((l) => {
    const [name, ok, ran, ...text] = l.split(' ');
    return [name!, { ok: ok === '1', ran: ran === '1', text: text.join(' ') }];
  }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('irq_race_judge', () => {
  it('passes a log refused from the freeze on, whether or not the probe had blocked by the first refusal', () => {
    expect(lines.get('refused-from-freeze')).toEqual({ ok: true, ran: true, text: "calls 1-2100 returned 0, then calls 2101-2600 were refused with EIO up to the kexec (600 of the last 1024 began after LUO's serializer took the sessions, 100 of those accepted)" });
    expect(lines.get('refused-before-probe-blocked')).toMatchObject({ ok: true, ran: true });
  });

  it('fails calls taken after the probe blocked, and any call taken after a refusal', () => {
    expect(lines.get('none-refused')).toEqual({ ok: false, ran: true, text: "32 SET_IRQS calls began after LUO's serializer took the sessions, up to the kexec, and every one returned 0" });
    expect(lines.get('none-refused-ring-full')).toMatchObject({ ok: false, ran: true, text: expect.stringMatching(/^at least 1024 SET_IRQS calls began/) });
    expect(lines.get('accepted-after-refusal')).toEqual({ ok: false, ran: true, text: '3 SET_IRQS calls returned 0 after call 501 was refused with EIO' });
  });

  it('gives no verdict where nothing shows the race ran: the agent bails out, an ERROR', () => {
    expect(lines.get('no-call-after-probe')).toMatchObject({ ok: false, ran: false, text: expect.stringMatching(/^none of 500 SET_IRQS calls was refused, and none began after LUO's serializer took the sessions/) });
    expect(lines.get('probe-never-blocked')).toMatchObject({ ok: false, ran: false });
    expect(lines.get('no-magic')).toEqual({ ok: false, ran: false, text: 'the race log crossed without its magic (0x0)' });
  });
});
