import { describe, expect, it } from 'vitest';
import noiommuDma from '../../cases/noiommu-dma.ts';
import iommuDma from '../../cases/iommu-dma.ts';
import { kernelCmdline } from '../../harness/run-case.ts';
import { arches } from '../../harness/qemu/arch.ts';
import { bdfOf, placeDevices, qemuArgv } from '../../harness/qemu/argv.ts';
import { cpioNewc } from '../../harness/guest/cpio.ts';

const arch = arches.x86_64!;

describe('QEMU command line', () => {
  it('places each case device at the slot the agent is told about', () => {
    const devices = [{ model: 'edu', props: { dma_mask: '0xffffffffffffffff' }, slot: 4 }];
    const argv = qemuArgv({
      arch, accel: { name: 'tcg', why: 'test' }, qemu: 'qemu', kernel: 'k', initrd: 'i', cmdline: 'c',
      memoryMiB: 512, cpus: 2, devices, resultSocket: '/tmp/s',
    });
    expect(argv.join(' ')).toContain('-device edu,addr=4.0,dma_mask=0xffffffffffffffff');
    expect(argv.join(' ')).toContain('-accel tcg');
    expect(argv.join(' ')).toContain('-chardev socket,id=result,path=/tmp/s');
    expect(kernelCmdline(noiommuDma, devices, arch)).toContain(`vh.dma=${bdfOf({ slot: 4 })}`);
    expect(bdfOf({ slot: 4 })).toBe('0000:00:04.0');
  });

  it("names the QEMU after the case's results path (commas doubled), which the e2e tests look for to find one left behind", () => {
    const argv = qemuArgv({
      arch, accel: { name: 'tcg', why: 'test' }, qemu: 'qemu', kernel: 'k', initrd: 'i', cmdline: 'c',
      memoryMiB: 512, cpus: 1, devices: [], resultSocket: '/tmp/vh-x/result', name: '/r/a,b/boot',
    });
    expect(argv.slice(argv.indexOf('-name'), argv.indexOf('-name') + 2)).toEqual(['-name', 'guest=/r/a,,b/boot']);
    expect(qemuArgv({ arch, accel: { name: 'tcg', why: 'test' }, qemu: 'qemu', kernel: 'k', initrd: 'i', cmdline: 'c', memoryMiB: 512, cpus: 1, devices: [], resultSocket: '/s' })).not.toContain('-name');
  });

  it('puts each device behind its own pcie-root-port unless the case keeps it on the root bus', () => {
    const devices = placeDevices([{ model: 'edu' }, { model: 'virtio-rng-pci', rootBus: true }, { model: 'nvme', props: { serial: 'a,b' } }], 4);
    expect(devices.map(bdfOf)).toEqual(['0000:01:00.0', '0000:00:05.0', '0000:02:00.0']);
    const argv = qemuArgv({
      arch, accel: { name: 'tcg', why: 'test' }, qemu: 'qemu', kernel: 'k', initrd: 'i', cmdline: 'c',
      memoryMiB: 512, cpus: 1, devices, resultSocket: '/tmp/s',
    }).join(' ');
    expect(argv).toContain('-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,addr=4.0 -device edu,bus=rp1,addr=0.0');
    expect(argv).toContain('-device virtio-rng-pci,addr=5.0');
    expect(argv).toContain('-device pcie-root-port,id=rp2,bus=pcie.0,chassis=1,slot=2,addr=6.0 -device nvme,bus=rp2,addr=0.0,serial=a,,b');
    expect(kernelCmdline(noiommuDma, devices, arch)).toContain('vh.dma=0000:01:00.0');
  });

  it('gives a case one vCPU unless it asks for more; a NUMA node past the vCPUs has memory only', () => {
    const argv = qemuArgv({
      arch, accel: { name: 'tcg', why: 'test' }, qemu: 'qemu', kernel: 'k', initrd: 'i', cmdline: 'c',
      memoryMiB: 512, cpus: noiommuDma.cpus ?? 1, numaNodes: noiommuDma.numaNodes, devices: [], resultSocket: '/tmp/s',
    }).join(' ');
    expect(argv).toContain('-smp 1 ');
    expect(argv).toContain('-numa node,nodeid=0,memdev=mem0,cpus=0 ');
    expect(argv).toMatch(/-numa node,nodeid=1,memdev=mem1 /);
  });

  it('doubles a comma inside an option value, so a results path with one still names the socket', () => {
    const argv = qemuArgv({
      arch, accel: { name: 'tcg', why: 'test' }, qemu: 'qemu', kernel: 'k', initrd: 'i', cmdline: 'c',
      memoryMiB: 512, cpus: 1, devices: [], resultSocket: '/tmp/a,b/s', qmpSocket: '/tmp/a,b/q',
    });
    expect(argv).toContain('socket,id=result,path=/tmp/a,,b/s');
    expect(argv).toContain('unix:/tmp/a,,b/q,server=on,wait=off');
  });

  it("puts QEMU's intel-iommu before every PCI device in iommu mode, and tells the agent the mode", () => {
    const devices = placeDevices([{ model: 'edu' }], 4);
    const vm = { arch, accel: { name: 'tcg', why: 'test' }, qemu: 'qemu', kernel: 'k', initrd: 'i', cmdline: 'c', memoryMiB: 512, cpus: 1, devices, resultSocket: '/tmp/s' } as const;
    const argv = qemuArgv({ ...vm, iommu: true });
    const at = argv.indexOf('intel-iommu,intremap=on');
    expect(at).toBeGreaterThan(0);
    expect(argv.findIndex((a) => a.startsWith('pcie-root-port'))).toBeGreaterThan(at);
    expect(qemuArgv(vm).join(' ')).not.toContain('intel-iommu');
    expect(qemuArgv({ ...vm, iommu: true, accel: { name: 'kvm', why: 'test' } })).toContain(`${arch.machine},kernel-irqchip=split`);
    expect(kernelCmdline(iommuDma, devices, arch)).toContain('vh.mode=iommu');
    expect(kernelCmdline(noiommuDma, devices, arch)).not.toContain('vh.mode=');
  });

  it('lets user words come last so they win', () => {
    const line = kernelCmdline(noiommuDma, [{ model: 'edu', slot: 4 }], arch, 'vfio.enable_unsafe_noiommu_mode=0');
    expect(line.endsWith('vfio.enable_unsafe_noiommu_mode=0')).toBe(true);
  });
});

describe('cpio newc', () => {
  it('writes 4-byte aligned headers, the file data and a trailer', () => {
    const buf = cpioNewc([{ path: 'init', kind: 'file', data: Buffer.from('abc'), mode: 0o755 }]);
    expect(buf.subarray(0, 6).toString()).toBe('070701');
    const mode = parseInt(buf.subarray(14, 22).toString(), 16);
    expect(mode).toBe(0o100755);
    expect(parseInt(buf.subarray(54, 62).toString(), 16)).toBe(3);
    expect(buf.length % 4).toBe(0);
    expect(buf.includes(Buffer.from('TRAILER!!!\0'))).toBe(true);
  });
});
