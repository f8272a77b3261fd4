// One contract: every name the host and the agent both spell comes from cases/contract.ts, reaches the agent as
// vh_contract.h, and is spelled nowhere else in guests/agent/*.c.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { A, CASE, CHEAT, CLAIM, INFO_PREFIX, KEY, KSELFTEST, REFUSED, SECCOMP, WATCH, contractGroups, infoLine, marker, word } from '../../cases/contract.ts';
import { allCases } from '../../cases/index.ts';
import { declaredAssertions, kselftestPoint } from '../../cases/case.ts';
import { guarantees } from '../../cases/controls.ts';
import { claims } from '../../kernels/capabilities.ts';
import { controls } from '../../harness/selftest.ts';
import { agentHash, contractHeader } from '../../harness/guest/agent-build.ts';
import { agentSrcDir } from '../../harness/paths.ts';

const sources = readdirSync(agentSrcDir)
  .filter((f) => /\.[ch]$/.test(f))
  .map((f) => ({ file: f, text: readFileSync(join(agentSrcDir, f), 'utf8') }));
/** The agent's code without its comments: what the compiler sees. */
const code = sources.map((s) => ({ ...s, text: s.text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '') }));
const header = contractHeader();
const macros = [...header.matchAll(/^#define (VH_\w+) "(.*)"$/gm)].map((m) => ({ macro: m[1]!, value: m[2]! }));

/** String literals in the agent that spell a contract name for another reason: each says why. */
const notContract: { file: string; literal: string; why: string }[] = [
  { file: 'case_boot.c', literal: 'boot', why: "the YAML phase of agent_runs_as_init's failure" },
  { file: 'case_handover.c', literal: 'boot', why: 'the YAML phase of the checks made before userspace acts' },
  { file: 'case_handover.c', literal: 'kexec', why: "the YAML phase of kexec_file_load's failure" },
  { file: 'sandbox.c', literal: 'done', why: 'what compaction said, in the pressure line' },
  { file: 'sandbox.c', literal: '/dev/mem', why: 'the path the open watch compares, not its label' },
  { file: 'driver.c', literal: '/dev/mem', why: 'the path the dev-mem cheat opens' },
  { file: 'driver.c', literal: 'io_uring_setup', why: 'what the io-uring cheat says it called, in its cheat line' },
  { file: 'driver.c', literal: 'ioperm', why: 'what the ioport cheat says it called, in its cheat line' },
  { file: 'main.c', literal: '/proc', why: 'where PID 1 mounts procfs' },
];

describe('the contract', () => {
  it('gives vh_contract.h one macro per name, each name once', () => {
    const names = contractGroups.flatMap((g) => Object.values(g.names));
    expect(macros).toHaveLength(names.length);
    expect(new Set(macros.map((m) => m.macro)).size).toBe(macros.length);
    expect(macros).toContainEqual({ macro: 'VH_A_BIND_IOMMUFD', value: 'bind_iommufd' });
    expect(macros).toContainEqual({ macro: 'VH_KEY_STAGE', value: 'vh.stage' });
    expect(macros).toContainEqual({ macro: 'VH_CHEAT_IRQ_ON', value: 'irq-on' });
    expect(macros).toContainEqual({ macro: 'VH_CLAIM_VFIO_PRESERVE', value: 'vfio-preserve' });
    expect(macros).toContainEqual({ macro: 'VH_AGENT_START', value: 'start' });
    expect(macros).toContainEqual({ macro: 'VH_INFO_PREFIX', value: '# vh ' });
    expect(macros).toContainEqual({ macro: 'VH_SECCOMP_MMAP_LOCKED', value: 'mmap(MAP_LOCKED)' });
    expect(macros).toContainEqual({ macro: 'VH_WATCH_PROC', value: '/proc' });
    expect(marker('start')).toBe('# vh agent=start');
    expect(infoLine('dma_mark', 'last')).toBe(`${INFO_PREFIX}dma_mark=last`);
    expect(word('cheat', CHEAT['irq-on'])).toBe('vh.cheat=irq-on');
  });

  it('refuses two names that make one macro', () => {
    expect(() => contractHeader([{ prefix: 'VH_X', what: 'clash', names: { 'a-b': 'a-b', a_b: 'a_b' } }])).toThrow(/both make VH_X_A_B/);
  });

  it("puts the header in the agent's cache key: a renamed name builds a new agent (and so a new initramfs)", () => {
    const renamed = header.replace('"bind_iommufd"', '"bind_to_iommufd"');
    expect(renamed).not.toBe(header);
    expect(agentHash('headers', renamed)).not.toBe(agentHash('headers', header));
    expect(agentHash('headers', header)).toBe(agentHash('headers'));
  });

  it('spells no contract name as a string literal in guests/agent/*.c: the macros only', () => {
    const values = new Map(macros.map((m) => [m.value, m.macro]));
    const found: string[] = [];
    for (const { file, text } of code) {
      for (const m of text.matchAll(/"((?:[^"\\\n]|\\.)*)"/g)) {
        const lit = m[1]!;
        const hit = values.get(lit) ?? (/\bvh\.[a-z]/.test(lit) ? 'a vh.<key>' : undefined);
        if (hit && !notContract.some((n) => n.file === file && n.literal === lit)) found.push(`${file}: "${lit}" (${hit})`);
      }
    }
    expect(found).toEqual([]);
  });

  it("names the sandbox's refusals in the selftest's expectations as the contract spells them", () => {
    const lit = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const said = new RegExp(`(?:${lit(REFUSED.seccomp)}|${lit(REFUSED.watch)}) (.+?) x\\d`, 'g');
    const known = new Set<string>([...Object.values(SECCOMP), ...Object.values(WATCH)]);
    const sandbox = controls.filter((c) => c.caughtBy === A.sandbox_no_refusals);
    expect(sandbox.length).toBeGreaterThan(0);
    for (const c of sandbox) {
      const named = [...c.seen.source.replace(/\\(.)/g, '$1').matchAll(said)].map((m) => m[1]!);
      expect(named.length, c.cheat).toBeGreaterThan(0);
      expect(named.filter((n) => !known.has(n)), c.cheat).toEqual([]);
    }
  });

  it('has no name the agent never uses, and every assertion, case, cheat and key the host uses', () => {
    const used = code.map((s) => s.text).join('\n');
    const dead = macros.filter((m) => !new RegExp(`\\b${m.macro}\\b`).test(used)).map((m) => m.macro);
    expect(dead).toEqual([]);
    // A kselftest's point is named by the agent from vh.kselftest= (the case's own list), not from the contract.
    const declared = allCases.flatMap((c) => declaredAssertions(c).map((a) => a.name));
    expect(new Set(Object.values(A))).toEqual(new Set(declared.filter((a) => !a.startsWith(KSELFTEST.point))));
    expect(declared.filter((a) => a.startsWith(KSELFTEST.point) && !allCases.some((c) => c.kselftests?.some((k) => kselftestPoint(k) === a)))).toEqual([]);
    expect(Object.keys(guarantees).sort()).toEqual(Object.values(A).sort());
    expect(allCases.map((c) => c.name).sort()).toEqual(Object.values(CASE).sort());
    expect(controls.map((c) => c.cheat).sort()).toEqual(Object.values(CHEAT).sort());
    expect(Object.values(CLAIM)).toEqual(Object.keys(claims));
    const params = allCases.flatMap((c) => [...c.devices.map((d) => d.role), ...Object.keys(c.params)]);
    expect(params.filter((k) => !Object.hasOwn(KEY, k))).toEqual([]);
  });
});
