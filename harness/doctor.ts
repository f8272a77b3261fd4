// vfio-handover doctor: what this machine can do, each answer one line, the fix beside each problem.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allCases } from '../cases/index.ts';
import type { Case } from '../cases/case.ts';
import { rootPortModel } from './qemu/argv.ts';
import { onPath } from './host-deps.ts';
import { capture } from './proc.ts';
import { chooseAccel } from './qemu/accel.ts';
import { qemuVersion } from './qemu/binary.ts';
import type { Arch } from './qemu/arch.ts';
import type { Kernel } from './kernel/build.ts';
import { allFragments, describeMiss, missingSymbols, parseConfig } from './kernel/fragments.ts';

export interface Finding {
  ok: boolean;
  what: string;
  detail: string;
}

export async function qemuDevices(qemu: string): Promise<Set<string>> {
  const r = await capture(qemu, ['-device', 'help']);
  return new Set([...r.stdout.matchAll(/^name "([^"]+)"/gm)].map((m) => m[1]!));
}

export async function staticGccWorks(): Promise<Finding> {
  const dir = mkdtempSync(join(tmpdir(), 'vh-doctor-'));
  try {
    writeFileSync(join(dir, 'a.c'), 'int main(void) { return 0; }\n');
    const r = await capture('gcc', ['-static', '-o', join(dir, 'a'), join(dir, 'a.c')]);
    return r.ok
      ? { ok: true, what: 'static gcc', detail: 'builds a static binary' }
      : { ok: false, what: 'static gcc', detail: `fails (${r.why}): apt-get install gcc libc6-dev` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function diagnose(qemu: string | undefined, arch: Arch, kernel: Kernel | undefined): Promise<Finding[]> {
  const out: Finding[] = [];
  if (!qemu) {
    out.push({ ok: false, what: 'QEMU', detail: `${arch.qemu} not found: apt-get install ${arch.qemuPackage}` });
  } else {
    const version = await qemuVersion(qemu);
    out.push({ ok: true, what: 'QEMU', detail: `${qemu}: ${version}` });
    const have = await qemuDevices(qemu);
    // A device off the root bus sits behind a pcie-root-port (harness/qemu/argv.ts).
    const modelsOf = (c: Case) => c.devices.flatMap((d) => (d.rootBus ? [d.model] : [rootPortModel, d.model]));
    const wanted = [...new Set(allCases.flatMap(modelsOf))];
    for (const d of wanted) {
      const users = allCases.filter((c) => modelsOf(c).includes(d)).map((c) => c.name);
      out.push({ ok: have.has(d), what: `QEMU device ${d}`, detail: have.has(d) ? `present (${users.join(', ')})` : `missing: ${users.join(', ')} cannot run` });
    }
    if (kernel) {
      const accel = await chooseAccel(qemu, arch, kernel.bzImage);
      out.push({ ok: true, what: 'accelerator', detail: `${accel.name.toUpperCase()}: ${accel.why}` });
    }
  }
  out.push(await staticGccWorks());
  out.push({ ok: onPath('setpriv') !== undefined, what: 'setpriv', detail: onPath('setpriv') ? 'QEMU dies with the harness even on SIGKILL' : 'missing (util-linux): QEMU is still killed on exit and Ctrl-C' });
  if (kernel?.config) {
    const misses = missingSymbols(parseConfig(readFileSync(kernel.config, 'utf8')), allFragments());
    out.push({
      ok: misses.length === 0,
      what: `kernel config (${kernel.spec})`,
      detail: misses.length === 0 ? 'every fragment symbol is set' : misses.map(describeMiss).join('; '),
    });
  } else if (kernel) {
    out.push({ ok: true, what: `kernel config (${kernel.spec})`, detail: 'not given: capabilities are probed at run time' });
  }
  return out;
}
