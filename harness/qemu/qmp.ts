// Asks a running QEMU where each vCPU is, so a hang is reported with the code it hangs in.
import { createConnection } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';

export interface VcpuState {
  cpu: number;
  rip: string;
  halted: boolean;
  /** function+offset from System.map, when the kernel's map is known. */
  symbol?: string;
}

/** Sends QMP commands in order on one connection and resolves with their `return` values. */
export function qmp(socket: string, commands: object[], timeoutMs = 3000): Promise<unknown[]> {
  const queue = [{ execute: 'qmp_capabilities' }, ...commands];
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    const replies: unknown[] = [];
    let buf = '';
    const finish = (e?: Error) => {
      clearTimeout(timer);
      conn.destroy();
      if (e) reject(e);
      else resolve(replies.slice(1));
    };
    const timer = setTimeout(() => finish(new Error(`QMP gave no answer in ${timeoutMs} ms`)), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('error', finish);
    conn.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, nl)) as { QMP?: unknown; return?: unknown; error?: { desc: string } };
        buf = buf.slice(nl + 1);
        if (msg.error) return finish(new Error(msg.error.desc));
        if ('return' in msg) replies.push(msg.return);
        else if (!msg.QMP) continue; // an event
        if (replies.length === queue.length) return finish();
        conn.write(`${JSON.stringify(queue[replies.length])}\n`);
      }
    });
  });
}

/** x86 `info registers -a`: one block per CPU, each with RIP=… and a HLT= flag. */
export function parseRegisters(text: string): VcpuState[] {
  return text.split(/^CPU#/m).slice(1).map((block) => ({
    cpu: Number(/^(\d+)/.exec(block)?.[1]),
    rip: /RIP=([0-9a-f]+)/.exec(block)?.[1] ?? '?',
    halted: /HLT=1/.test(block),
  }));
}

export interface Sym {
  addr: bigint;
  name: string;
}

export function textSymbols(systemMap: string): Sym[] {
  return systemMap
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length === 3 && /^[tTwW]$/.test(f[1]!))
    .map((f) => ({ addr: BigInt(`0x${f[0]}`), name: f[2]! }))
    .sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
}

/** Handler address of IDT gate 0, from `x/2gx IDT` output (two 64-bit words of the gate descriptor). */
export function gateZeroHandler(dump: string): bigint | undefined {
  const words = [...dump.matchAll(/0x([0-9a-f]{16})/g)].map((m) => BigInt(`0x${m[1]}`));
  if (words.length < 2) return undefined;
  const [lo, hi] = [words[0]!, words[1]!];
  return (lo & 0xffffn) | (((lo >> 48n) & 0xffffn) << 16n) | ((hi & 0xffffffffn) << 32n);
}

/** KASLR's text offset: IDT gate 0 is the divide-error handler (or the early one before traps are set up). */
export function kaslrOffset(handler: bigint, syms: Sym[]): bigint | undefined {
  for (const name of ['asm_exc_divide_error', 'early_idt_handler_array']) {
    const at = syms.find((s) => s.name === name)?.addr;
    // Kernel text moves in 2 MiB steps (CONFIG_PHYSICAL_ALIGN): only the right guess is aligned.
    if (at !== undefined && handler >= at && (handler - at) % 0x200000n === 0n) return handler - at;
  }
  return undefined;
}

/** Nearest text symbol at or below each address, after taking KASLR's offset off. */
export function symbolise(states: VcpuState[], syms: Sym[], offset = 0n): VcpuState[] {
  return states.map((s) => {
    if (!/^[0-9a-f]+$/.test(s.rip) || syms.length === 0) return s;
    const rip = BigInt(`0x${s.rip}`) - offset;
    if (rip < syms[0]!.addr) return s;
    let lo = 0;
    let hi = syms.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (syms[mid]!.addr <= rip) lo = mid;
      else hi = mid - 1;
    }
    return { ...s, symbol: `${syms[lo]!.name}+0x${(rip - syms[lo]!.addr).toString(16)}` };
  });
}

export function describeVcpus(states: VcpuState[]): string {
  return states.map((s) => `vCPU${s.cpu} ${s.halted ? 'halted' : 'running'} at ${s.symbol ?? s.rip}`).join('; ');
}

/** Where every vCPU is now; undefined when QEMU no longer answers. */
export async function vcpuStates(socket: string, systemMap?: string): Promise<{ states: VcpuState[]; raw: string } | undefined> {
  const hmp = (line: string) => ({ execute: 'human-monitor-command', arguments: { 'command-line': line } });
  try {
    const [raw] = (await qmp(socket, [hmp('info registers -a')])) as string[];
    const states = parseRegisters(raw ?? '');
    const syms = systemMap && existsSync(systemMap) ? textSymbols(readFileSync(systemMap, 'utf8')) : [];
    const idt = /^IDT=\s+([0-9a-f]+)/m.exec(raw ?? '')?.[1];
    if (!syms.length || !idt) return { states, raw: raw ?? '' };
    const [gate] = (await qmp(socket, [hmp(`x/2gx 0x${idt}`)])) as string[];
    const handler = gateZeroHandler(gate ?? '');
    const offset = handler === undefined ? undefined : kaslrOffset(handler, syms);
    return { states: symbolise(states, syms, offset ?? 0n), raw: `${raw ?? ''}\nIDT gate 0: ${gate ?? ''}` };
  } catch {
    return undefined;
  }
}
