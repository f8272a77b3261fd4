// The suite: every case by name, in the order a default run takes them.
import type { Case } from './case.ts';
import boot from './boot.ts';
import noiommuDma from './noiommu-dma.ts';
import luoDmaBuffer from './luo-dma-buffer.ts';
import vfioHandover from './vfio-handover.ts';
import iommufdHandover from './iommufd-handover.ts';
import onlyVfio from './only-vfio.ts';
import kexecChain from './kexec-chain.ts';
import memfdChain from './memfd-chain.ts';
import nvmeHandover from './nvme-handover.ts';
import dmaAcrossKexec from './dma-across-kexec.ts';
import lifecycleRepreserve from './lifecycle-represerve.ts';
import lifecycleSecondOpener from './lifecycle-second-opener.ts';
import iommuDma from './iommu-dma.ts';
import vfioHandoverIommu from './vfio-handover-iommu.ts';
import upstreamUapiSelftest from './upstream-uapi-selftest.ts';
import lifecycleAbandoned from './lifecycle-abandoned.ts';
import lifecycleUnbindFinish from './lifecycle-unbind-finish.ts';
import lifecycleKhoOff from './lifecycle-kho-off.ts';
import lifecycleOwnerCrash from './lifecycle-owner-crash.ts';
import lifecycleIrqAfterFreeze from './lifecycle-irq-after-freeze.ts';
import lifecyclePressureBeforeMap from './lifecycle-pressure-before-map.ts';
import { UsageError } from '../harness/errors.ts';

export const allCases: Case[] = [boot, noiommuDma, luoDmaBuffer, vfioHandover, iommufdHandover, onlyVfio, kexecChain, memfdChain, nvmeHandover, dmaAcrossKexec, lifecycleRepreserve, lifecycleSecondOpener, lifecycleAbandoned, lifecycleUnbindFinish, lifecycleKhoOff, lifecycleOwnerCrash, lifecycleIrqAfterFreeze, lifecyclePressureBeforeMap, iommuDma, vfioHandoverIommu, upstreamUapiSelftest];

export function pickCases(names: string[]): Case[] {
  if (names.length === 0) return allCases;
  return names.map((n) => {
    const c = allCases.find((k) => k.name === n);
    if (!c) throw new UsageError(`unknown case '${n}': known cases are ${allCases.map((k) => k.name).join(', ')}`);
    return c;
  });
}
