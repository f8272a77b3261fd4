// One QEMU process: console into a file we follow, the agent's result channel on a unix socket we listen on.
// Every VM is registered so none outlives the harness, on normal exit, error or Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { onPath } from '../host-deps.ts';
import { qemuArgv, type VmSpec } from './argv.ts';
import { vcpuStates } from './qmp.ts';

export interface VmHandlers {
  console(chunk: string): void;
  result(line: string): void;
  exit(code: number | null, signal: NodeJS.Signals | null, stderr: string): void;
}

const live = new Set<ChildProcess>();

/**
 * QEMU's stdout is the console file itself: a regular file never refuses a write. A pipe that the harness
 * drains late (two cores, kernel builds beside us) fills, and then QEMU's 16550 and the guest's console
 * driver give up on the byte and drop it: consoles with letters missing, and a match on them failing.
 */
class ConsoleFile {
  private readonly fd: number;
  private offset = 0;
  private readonly decoder = new StringDecoder('utf8');
  private readonly buf = Buffer.alloc(64 * 1024);

  constructor(
    path: string,
    private readonly sink: (chunk: string) => void,
  ) {
    this.fd = openSync(path, 'r');
  }

  /** Everything QEMU wrote since the last call. */
  drain(): void {
    for (;;) {
      const n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      if (n <= 0) return;
      this.offset += n;
      const text = this.decoder.write(this.buf.subarray(0, n));
      if (text) this.sink(text);
    }
  }

  close(): void {
    this.drain();
    const rest = this.decoder.end();
    if (rest) this.sink(rest);
    closeSync(this.fd);
  }
}

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

  /** consoleFile: where QEMU writes the console (its stdout), which the handlers are fed from as it grows. */
  static async start(spec: VmSpec & { consoleFile: string }, h: VmHandlers): Promise<Vm> {
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
    const out = openSync(spec.consoleFile, 'w');
    const proc = spawn(cmd, args, { detached: true, stdio: ['ignore', out, 'pipe'] });
    closeSync(out);
    live.add(proc);
    const consoleFile = new ConsoleFile(spec.consoleFile, h.console);
    const follow = setInterval(() => consoleFile.drain(), 50);
    let stderr = '';
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
      clearInterval(follow);
      consoleFile.close();
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
