// One QEMU process: console on stdout, the agent's result channel on a unix socket we listen on.
// Every VM is registered so none outlives the harness, on normal exit, error or Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { rmSync } from 'node:fs';
import { onPath } from '../host-deps.ts';
import { qemuArgv, type VmSpec } from './argv.ts';
import { vcpuStates } from './qmp.ts';

export interface VmHandlers {
  console(chunk: string): void;
  result(line: string): void;
  exit(code: number | null, signal: NodeJS.Signals | null, stderr: string): void;
}

const live = new Set<ChildProcess>();

function killAll(): void {
  for (const p of live) {
    try {
      if (p.pid) process.kill(-p.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      killAll();
      process.stderr.write(`\ninterrupted (${sig}): QEMU stopped\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export class Vm {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly server: Server,
    private readonly socket: string,
    private readonly qmpSocket?: string,
  ) {}

  static async start(spec: VmSpec, h: VmHandlers): Promise<Vm> {
    hookExit();
    rmSync(spec.resultSocket, { force: true });
    let partial = '';
    let open = 0;
    let drained: () => void = () => {};
    const server = createServer((conn) => {
      open++;
      conn.on('close', () => {
        if (--open === 0) drained();
      });
      conn.setEncoding('utf8');
      conn.on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) h.result(l.replace(/\r$/, ''));
      });
      conn.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(spec.resultSocket, resolve);
    });
    // setpriv ties QEMU's life to ours even if we are SIGKILLed.
    const setpriv = onPath('setpriv');
    const argv = qemuArgv(spec);
    const [cmd, args] = setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', spec.qemu, ...argv]] : [spec.qemu, argv];
    // spawn, not proc.ts/execa: QEMU lives as long as its case, streams to handlers and is killed as a process group.
    const proc = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(proc);
    let stderr = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (c: string) => h.console(c));
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (c: string) => {
      if (stderr.length < 8192) stderr += c;
    });
    const vm = new Vm(proc, server, spec.resultSocket, spec.qmpSocket);
    proc.on('error', (e) => {
      stderr += String(e.message);
    });
    proc.on('close', (code, signal) => {
      live.delete(proc);
      // What QEMU wrote to the result socket just before it exited may still be in flight.
      const settle = open === 0 ? Promise.resolve() : new Promise<void>((r) => ((drained = r), setTimeout(r, 1000)));
      void settle.then(() => {
        if (partial) h.result(partial);
        partial = '';
        vm.closeServer();
        h.exit(code, signal, stderr);
      });
    });
    return vm;
  }

  /** Each vCPU's RIP and halt state, symbolised with the kernel's System.map when given. */
  async vcpus(systemMap?: string): ReturnType<typeof vcpuStates> {
    return this.qmpSocket && live.has(this.proc) ? vcpuStates(this.qmpSocket, systemMap) : undefined;
  }

  kill(): void {
    if (!live.has(this.proc)) return;
    try {
      if (this.proc.pid) process.kill(-this.proc.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }

  private closeServer(): void {
    this.server.close();
    rmSync(this.socket, { force: true });
    if (this.qmpSocket) rmSync(this.qmpSocket, { force: true });
  }
}
