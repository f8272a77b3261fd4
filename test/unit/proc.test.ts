// A failed child process is one line: the command, how it ended, and the output line that says why.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InfraError, UsageError } from '../../harness/errors.ts';
import { capture, meaningfulLine, pipeline, run } from '../../harness/proc.ts';

describe('proc', () => {
  it('a failed tar in a pipeline is an InfraError naming tar and its own message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vh-proc-'));
    writeFileSync(join(dir, 'not.deb'), 'not an archive\n');
    const p = pipeline([['cat', [join(dir, 'not.deb')]], ['tar', ['-xO', './usr/src/linux.tar.xz']], ['tar', ['-xJ']]], { cwd: dir, failure: 'unpacking linux failed' });
    await expect(p).rejects.toBeInstanceOf(InfraError);
    await expect(p).rejects.toThrow(/^unpacking linux failed \(tar, exit 2\): tar: /);
  });

  it('names the command, its exit status and the first line that reads as an error', async () => {
    await expect(run('sh', ['-c', 'echo "W: stale"; echo "E: no such package" >&2; exit 100'], { shown: 'apt-get update' })).rejects.toThrow(
      /^apt-get update failed \(exit 100\): E: no such package$/,
    );
    await expect(run('no-such-program-vh', [])).rejects.toThrow(/^no-such-program-vh failed \(could not start: spawn no-such-program-vh ENOENT\)$/);
  });

  it('usage: the failure is the user\'s input, a UsageError', async () => {
    await expect(run('false', [], { usage: true, failure: 'patch series p does not apply' })).rejects.toBeInstanceOf(UsageError);
  });

  it('capture judges nothing; until stops the command at the line it waits for; a timeout says so', async () => {
    expect((await capture('sh', ['-c', 'exit 3'])).why).toBe('exit 3');
    const banner = await capture('sh', ['-c', 'echo booting; echo "Linux version 7.3"; exec sleep 30'], { until: (l) => l.includes('Linux version') });
    expect(banner).toMatchObject({ ok: true, stopped: true });
    const silent = await capture('sleep', ['30'], { timeoutMs: 200 });
    expect(silent).toMatchObject({ ok: false, timedOut: true, why: 'timed out after 0.2 s' });
  });

  it('a compiler error wins over make\'s own lines; warnings are never the reason', () => {
    expect(meaningfulLine('make[1]: Entering directory\n  CC x.o\nx.c:3:1: warning: unused\nx.c:4:2: error: boom\nmake: *** Error 2')).toBe('x.c:4:2: error: boom');
  });
});
