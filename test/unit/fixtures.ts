// Recorded real streams under test/fixtures/, and the exit of a VM that powered off cleanly.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Case } from '../../cases/case.ts';
import luoDmaBuffer from '../../cases/luo-dma-buffer.ts';
import noiommuDma from '../../cases/noiommu-dma.ts';
import onlyVfio from '../../cases/only-vfio.ts';
import vfioHandover from '../../cases/vfio-handover.ts';
import { traceEvents } from '../../harness/qemu/trace.ts';
import { judge, type CaseResult, type JudgeOptions, type Observation } from '../../harness/verdict.ts';
import { withoutReport } from './ktap-edit.ts';

const fixture = (...p: string[]) => join(import.meta.dirname, '..', 'fixtures', ...p);

export const fx = (...p: string[]) => readFileSync(fixture(...p), 'utf8');

export const exit0 = { code: 0, signal: null, stderr: '' };

/** A recorded run of case c as the judge saw it: its result lines, with their arrival times and QEMU's trace of the device
 * where the run kept them (<case>.result.times, epoch ms a line; <case>.trace.log), its console, a clean power-off. */
export function recordedObservation(dir: string, c: Case): Observation {
  const has = (f: string) => existsSync(fixture(dir, `${c.name}.${f}`));
  const resultLines = fx(dir, `${c.name}.result.log`).split('\n');
  const epochs = has('result.times') ? fx(dir, `${c.name}.result.times`).trim().split('\n').map(Number) : undefined;
  // QEMU's start is not recorded: the first result line stands in for it, which moves every time alike.
  const t0 = epochs?.[0] ?? 0;
  return {
    resultLines,
    ...(epochs ? { resultTimes: epochs.map((e) => e - t0) } : {}),
    console: has('console.log') ? fx(dir, `${c.name}.console.log`) : '',
    exit: exit0,
    ...(epochs && has('trace.log') ? { deviceTrace: traceEvents(fx(dir, `${c.name}.trace.log`), t0) } : {}),
  };
}

/** How a recorded run is changed: another case name, a stream edited as a fault would edit it, judge options. */
interface Variant {
  as?: string;
  edit?: (o: Observation) => Observation;
  opts?: JudgeOptions;
}

/** One recorded run judged as the runner would, named after its fixture folder so every case name differs. */
function recorded(dir: string, c: Case, v: Variant = {}): CaseResult {
  const consoleLog = existsSync(fixture(dir, `${c.name}.console.log`)) ? fx(dir, `${c.name}.console.log`) : '';
  const obs = { resultLines: fx(dir, `${c.name}.result.log`).split('\n'), console: consoleLog, exit: exit0, timings: { wall_ms: 7431 } };
  return { ...judge(c, v.edit ? v.edit(obs) : obs, v.opts), case: v.as ?? dir };
}

/** A verdict of every status from the recorded runs: pass, skip, fail, error (a real panic) and miss. */
export function recordedVerdicts(): CaseResult[] {
  const panicConsole = fx('panic-no-rootfs', 'console.log');
  const qemuRefused = { code: 1, signal: null, stderr: "qemu-system-x86_64: -device nosuch: 'nosuch' is not a valid device model name\n" };
  return [
    recorded('noiommu-dma-pass', noiommuDma),
    recorded('luo-dma-buffer-7.3', luoDmaBuffer),
    recorded('only-vfio-7.3', onlyVfio),
    recorded('only-vfio-handover', onlyVfio),
    recorded('vfio-handover-irq-on', vfioHandover),
    recorded('noiommu-off', noiommuDma),
    recorded('only-vfio-7.3', onlyVfio, { as: 'only-vfio-required', opts: { require: ['vfio-preserve'] } }),
    recorded('noiommu-dma-pass', noiommuDma, { as: 'unreported', edit: (o) => ({ ...o, resultLines: withoutReport(o.resultLines, 'dma_roundtrip_every_page') }) }),
    recorded('noiommu-dma-pass', noiommuDma, { as: 'panic-no-rootfs', edit: (o) => ({ ...o, resultLines: [], console: panicConsole }) }),
    recorded('noiommu-dma-pass', noiommuDma, { as: 'qemu-refused', edit: (o) => ({ ...o, resultLines: [], console: '', exit: qemuRefused }) }),
  ];
}
