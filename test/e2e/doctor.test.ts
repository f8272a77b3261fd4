// doctor tells what this machine can do, and names what is missing.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, scratch } from './cli.ts';

describe('doctor', () => {
  it('reports QEMU, its devices, the accelerator, static gcc and the config check', async () => {
    const r = await run(['doctor']);
    expect(r.exitCode, String(r.stdout)).toBe(0);
    const out = String(r.stdout);
    expect(out).toMatch(/^ok {4}QEMU device edu: present/m);
    expect(out).toMatch(/^ok {4}accelerator: (KVM|TCG): /m);
    expect(out).toMatch(/^ok {4}static gcc: builds a static binary$/m);
    expect(out).toMatch(/^ok {4}kernel config \(debian:7\.3\): every fragment symbol is set$/m);
  });

  it('names a device this QEMU lacks and the cases that need it', async () => {
    const fake = join(scratch(), 'qemu-without-edu');
    writeFileSync(fake, '#!/bin/sh\nif [ "$1" = "-device" ] && [ "$2" = "help" ]; then echo \'name "virtio-rng-pci", bus PCI\'; exit 0; fi\nexec qemu-system-x86_64 "$@"\n');
    chmodSync(fake, 0o755);
    const r = await run(['doctor'], { env: { VFIO_HANDOVER_QEMU: fake } });
    expect(r.exitCode).toBe(2);
    expect(String(r.stdout)).toMatch(/^FAIL {2}QEMU device edu: missing: noiommu-dma, luo-dma-buffer, vfio-handover, iommufd-handover, kexec-chain, memfd-chain, lifecycle-represerve, lifecycle-second-opener, lifecycle-unbind-finish, lifecycle-kho-off, lifecycle-irq-after-freeze, lifecycle-pressure-before-map, iommu-dma, vfio-handover-iommu, upstream-uapi-selftest cannot run$/m);
    // Every case's devices sit behind root ports: a QEMU without them runs none of the suite but boot.
    expect(String(r.stdout)).toMatch(/^FAIL {2}QEMU device pcie-root-port: missing: noiommu-dma, luo-dma-buffer, vfio-handover, iommufd-handover, only-vfio, kexec-chain, memfd-chain, nvme-handover, dma-across-kexec, lifecycle-represerve, lifecycle-second-opener, lifecycle-abandoned, lifecycle-unbind-finish, lifecycle-kho-off, lifecycle-owner-crash, lifecycle-irq-after-freeze, lifecycle-pressure-before-map, iommu-dma, vfio-handover-iommu, upstream-uapi-selftest cannot run$/m);
  });
});
