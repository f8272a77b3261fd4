// Where a hung guest's vCPUs are: QEMU's `info registers -a` and IDT gate 0, recorded from a real
// 7.3 boot stopped by a short boot timeout, read against that build's System.map.
import { describe, expect, it } from 'vitest';
import { describeVcpus, gateZeroHandler, kaslrOffset, parseRegisters, symbolise, textSymbols } from '../../harness/qemu/qmp.ts';
import { fx } from './fixtures.ts';

const raw = fx('vcpus', 'info-registers.txt');
const syms = textSymbols(fx('vcpus', 'System.map.excerpt'));
const gate = /^IDT gate 0: (.*)$/m.exec(raw)![1]!;

describe('vCPU states of a hung guest', () => {
  it('reads each CPU block: its RIP and whether it is halted', () => {
    expect(parseRegisters(raw)).toEqual([
      { cpu: 0, rip: 'ffffffff872d6947', halted: true },
      { cpu: 1, rip: 'ffffffff872d17a4', halted: false },
    ]);
  });

  it("finds KASLR's offset from the divide-error gate, in 2 MiB steps", () => {
    const offset = kaslrOffset(gateZeroHandler(gate)!, syms);
    expect(offset).toBeDefined();
    expect(offset! % 0x200000n).toBe(0n);
  });

  it('names the function each vCPU is in', () => {
    const states = symbolise(parseRegisters(raw), syms, kaslrOffset(gateZeroHandler(gate)!, syms));
    expect(describeVcpus(states)).toBe('vCPU0 halted at pv_native_safe_halt+0x17; vCPU1 running at delay_read_timer+0x14');
  });

  it('without the offset the same RIPs name no function of this kernel, so a wrong map is visible', () => {
    const states = symbolise(parseRegisters(raw), syms);
    expect(states.map((s) => s.symbol)).not.toContain('pv_native_safe_halt+0x17');
  });
});
