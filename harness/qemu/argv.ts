// Builds the QEMU command line for one VM from plain data.
import type { Arch } from './arch.ts';
import { accelArgs, type Accel } from './accel.ts';

export interface VmDevice {
  /** QEMU device model, e.g. edu. */
  model: string;
  props?: Record<string, string>;
  /** PCI slot on bus 0: the device's own, or that of the pcie-root-port it sits behind. */
  slot: number;
  /** Behind a pcie-root-port whose secondary bus is this number (the guest sees 0000:<bus>:00.0); absent: on the root bus. */
  bus?: number;
  /** A raw image file as the device's drive (-drive if=none, then drive=). */
  drive?: string;
  /** Requests a second the drive serves at most. */
  driveIops?: number;
}

export interface VmSpec {
  arch: Arch;
  accel: Accel;
  qemu: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  numaNodes?: number;
  devices: VmDevice[];
  /** Unix socket the result channel connects to (the host listens). */
  resultSocket: string;
  /** QEMU trace events to log, timestamped, into file (-trace, -D): what a device did, seen from the host. */
  trace?: { events: string[]; file: string };
  /** QEMU's Intel IOMMU on q35 (before every PCI device, which must find it at realize), with interrupt remapping, without
   * which iommufd binds no device (MSIs not isolated); KVM then needs its irqchip split. */
  iommu?: boolean;
  /** QMP socket, so a hung guest can be asked where its vCPUs are. */
  qmpSocket?: string;
  /** The console is the user's terminal, with QEMU's monitor multiplexed (Ctrl-A X quits). */
  interactive?: boolean;
  /** QEMU's -name: where the run writes this case, so ps (and the tests that look for a QEMU left behind) can tell whose it is. */
  name?: string;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** The address the guest sees the device at. */
export function bdfOf(d: Pick<VmDevice, 'slot' | 'bus'>): string {
  return d.bus === undefined ? `0000:00:${hex2(d.slot)}.0` : `0000:${hex2(d.bus)}:00.0`;
}

/**
 * One slot each from `firstSlot`; a device behind a root port gets the next secondary bus, because the
 * firmware (SeaBIOS) numbers bridges depth-first in slot order and Linux keeps its numbers, across kexec too.
 */
export function placeDevices(devices: { model: string; props?: Record<string, string>; rootBus?: boolean }[], firstSlot: number): VmDevice[] {
  let bus = 0;
  return devices.map((d, i) => ({ model: d.model, props: d.props, slot: firstSlot + i, ...(d.rootBus ? {} : { bus: ++bus }) }));
}

/** The -drive option of a device that has one, named after its slot. */
function driveArgs(d: VmDevice): { args: string[]; prop: string } {
  if (!d.drive) return { args: [], prop: '' };
  const id = `drive${d.slot}`;
  const throttle = d.driveIops ? `,throttling.iops-total=${d.driveIops}` : '';
  return { args: ['-drive', `if=none,id=${id},format=raw,file=${optValue(d.drive)}${throttle}`], prop: `,drive=${id}` };
}

/** The bridge every device off the root bus sits behind. */
export const rootPortModel = 'pcie-root-port';

/** The -device options of one case device: behind a root port (chassis 1, its bus number as slot) or on bus 0. */
function deviceArgs(d: VmDevice): string[] {
  const drive = driveArgs(d);
  const props = Object.entries(d.props ?? {}).map(([k, v]) => `,${k}=${optValue(v)}`).join('') + drive.prop;
  if (d.bus === undefined) return [...drive.args, '-device', `${d.model},addr=${d.slot.toString(16)}.0${props}`];
  const port = `rp${d.bus}`;
  return [
    ...drive.args,
    '-device', `${rootPortModel},id=${port},bus=pcie.0,chassis=1,slot=${d.bus},addr=${d.slot.toString(16)}.0`,
    '-device', `${d.model},bus=${port},addr=0.0${props}`,
  ];
}

/** A value inside a QEMU option list (key=value,...): a comma in it is written twice. */
export function optValue(v: string): string {
  return v.replace(/,/g, ',,');
}

export function qemuArgv(vm: VmSpec): string[] {
  const accel = accelArgs(vm.accel.name);
  const devices = vm.devices.flatMap(deviceArgs);
  const nodes = vm.numaNodes ?? 1;
  const numa = nodes < 2 ? [] : Array.from({ length: nodes }, (_, i) => [
    '-object', `memory-backend-ram,id=mem${i},size=${Math.floor(vm.memoryMiB / nodes)}M`,
    '-numa', `node,nodeid=${i},memdev=mem${i}${i < vm.cpus ? `,cpus=${i}` : ''}`,
  ]).flat();
  return [
    ...(vm.name ? ['-name', `guest=${optValue(vm.name)}`] : []),
    '-M', vm.iommu && vm.accel.name === 'kvm' ? `${vm.arch.machine},kernel-irqchip=split` : vm.arch.machine,
    ...accel,
    '-m', `${vm.memoryMiB}M`,
    // One socket per NUMA node that has CPUs: CPUs sharing a cache across nodes make the kernel WARN.
    '-smp', nodes > 1 && vm.cpus > 1 ? `${vm.cpus},sockets=${Math.min(nodes, vm.cpus)}` : String(vm.cpus),
    ...numa,
    '-nodefaults', '-no-user-config', '-display', 'none', ...(vm.interactive ? [] : ['-monitor', 'none']), '-no-reboot',
    '-serial', vm.interactive ? 'mon:stdio' : 'stdio',
    '-chardev', `socket,id=result,path=${optValue(vm.resultSocket)}`,
    '-serial', 'chardev:result',
    ...(vm.trace ? [...vm.trace.events.flatMap((e) => ['-trace', `enable=${optValue(e)}`]), '-D', vm.trace.file, '-msg', 'timestamp=on'] : []),
    ...(vm.qmpSocket ? ['-qmp', `unix:${optValue(vm.qmpSocket)},server=on,wait=off`] : []),
    '-kernel', vm.kernel,
    '-initrd', vm.initrd,
    '-append', vm.cmdline,
    ...(vm.iommu ? ['-device', 'intel-iommu,intremap=on'] : []),
    ...devices,
    ...vm.arch.extra,
  ];
}
