// A control counts as caught only when its own guard's assertion failed for its own reason.
import { describe, expect, it } from 'vitest';
import { controls, judgeControl } from '../../harness/selftest.ts';
import { judge, skipped, type CaseResult } from '../../harness/verdict.ts';
import iommuDma from '../../cases/iommu-dma.ts';
import vfioHandover from '../../cases/vfio-handover.ts';
import dmaAcrossKexec from '../../cases/dma-across-kexec.ts';
import { exit0, fx } from './fixtures.ts';

const mlock = controls.find((c) => c.cheat === 'mlock')!;
const result = (ok: boolean, seen: string): CaseResult => ({
  case: 'noiommu-dma',
  status: ok ? 'pass' : 'fail',
  assertions: [{ name: 'sandbox_no_refusals', ok, diag: ok ? undefined : { seen } }],
  info: {},
  timings: {},
});

describe('judgeControl', () => {
  it("never counts a control caught when its case SKIPped before booting (a kernel without the iommu fragment): SKIP with that reason", () => {
    const mapPa = controls.find((c) => c.cheat === 'map-pa')!;
    const reason = 'kernel config lacks capability: CONFIG_INTEL_IOMMU=y requested by kernels/fragments/iommu.config did not land (the kernel has n)';
    expect(judgeControl(mapPa, skipped(iommuDma, reason))).toEqual({ caught: false, skip: reason, detail: `cannot run here: ${reason}` });
  });

  it('is caught when the guard names the cheat', () => {
    expect(judgeControl(mlock, result(false, 'seccomp refused mlock x1'))).toEqual({
      caught: true,
      detail: 'caught by seccomp: seccomp refused mlock x1',
    });
  });

  it('is not caught when the guard stayed quiet', () => {
    expect(judgeControl(mlock, result(true, '')).caught).toBe(false);
  });

  it('is not caught when the assertion failed for another reason', () => {
    const v = judgeControl(mlock, result(false, 'seccomp refused mprotect x1'));
    expect(v.caught).toBe(false);
    expect(v.detail).toMatch(/not for this cheat/);
  });

  it('is not caught when the run itself broke', () => {
    const v = judgeControl(mlock, { ...result(false, ''), status: 'error', reason: 'guest crashed: Kernel panic' });
    expect(v).toEqual({ caught: false, detail: 'the run itself failed: guest crashed: Kernel panic' });
  });

  const irqOn = controls.find((c) => c.cheat === 'irq-on')!;

  it('irq-on is caught by the refused kexec recorded on the reference series', () => {
    const r = judge(vfioHandover, {
      resultLines: fx('vfio-handover-irq-on', 'vfio-handover.result.log').trimEnd().split('\n'),
      console: fx('vfio-handover-irq-on', 'vfio-handover.console.log'),
      exit: exit0,
    });
    expect(judgeControl(irqOn, r)).toEqual({
      caught: true,
      detail: "caught by the kernel's freeze check (LUO refuses the reboot): the kernel refused the kexec: EBUSY",
    });
  });

  it('irq-on is caught by the EINVAL that upstream VFIO v5\'s freeze gives, recorded on noiommu-continuous-dma', () => {
    const r = judge(vfioHandover, {
      resultLines: fx('vfio-handover-irq-on-v2', 'vfio-handover.result.log').trimEnd().split('\n'),
      console: fx('vfio-handover-irq-on-v2', 'vfio-handover.console.log'),
      exit: exit0,
    });
    expect(judgeControl(irqOn, r)).toEqual({
      caught: true,
      detail: "caught by the kernel's freeze check (LUO refuses the reboot): the kernel refused the kexec: EINVAL",
    });
  });

  const unpreserved = controls.find((c) => c.cheat === 'dma-unpreserved')!;
  const unpreservedRun = () =>
    judge(dmaAcrossKexec, {
      resultLines: fx('dma-across-kexec-unpreserved-v2', 'dma-across-kexec.result.log').trimEnd().split('\n'),
      console: fx('dma-across-kexec-unpreserved-v2', 'dma-across-kexec.console.log'),
      exit: exit0,
    });

  it('dma-unpreserved is caught by a kernel that refuses to freeze a device mapping unpreserved memory (recorded on noiommu-continuous-dma)', () => {
    const r = unpreservedRun();
    expect(r.assertions.find((a) => a.name === 'stage2/dma_targets_preserved')?.ok).toBe(false);
    expect(judgeControl(unpreserved, r)).toEqual({
      caught: true,
      detail: "caught by the kernel's freeze check of the device's DMA mappings: the kernel refused the kexec: EBUSY",
    });
  });

  it('dma-unpreserved is not caught when the kernel refuses the kexec for another reason', () => {
    const r = unpreservedRun();
    const edited = { ...r, assertions: r.assertions.map((a) => (a.name === 'stage1/kexec_reboot' ? { ...a, diag: { ...a.diag, seen: 'the kernel refused the kexec: EINVAL' } } : a)) };
    const v = judgeControl(unpreserved, edited);
    expect(v.caught).toBe(false);
    expect(v.detail).toMatch(/^stage2\/dma_targets_preserved failed, but not for this cheat/);
  });

  it('irq-on SKIPs with the kernel\'s reason where the device cannot be preserved at all', () => {
    const why = 'vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT';
    const r: CaseResult = { case: 'vfio-handover', status: 'skip', reason: why, assertions: [{ name: 'stage1/preserve_device_fd', ok: true, skip: why }], info: {}, timings: {} };
    expect(judgeControl(irqOn, r)).toMatchObject({ caught: false, skip: why });
  });

  it('irq-on is not ok, not SKIP, when --require vfio-preserve and the kernel cannot preserve the device', () => {
    const why = 'vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT';
    const r: CaseResult = { case: 'vfio-handover', status: 'skip', reason: why, assertions: [{ name: 'stage1/preserve_device_fd', ok: true, skip: why }], info: {}, timings: {} };
    const v = judgeControl(irqOn, r, ['vfio-preserve']);
    expect(v.caught).toBe(false);
    expect(v.skip).toBeUndefined();
    expect(v.detail).toMatch(/--require vfio-preserve: vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD/);
  });

  it('irq-on is not ok when the verdict already turned the SKIP into a --require failure', () => {
    const why = 'vfio-preserve: LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned ENOENT';
    const failed = { name: 'stage1/preserve_device_fd', ok: false, diag: { expected: 'the kernel claims vfio-preserve (--require vfio-preserve)', seen: why, phase: 'require' } };
    const r: CaseResult = { case: 'vfio-handover', status: 'fail', reason: 'x', assertions: [failed], info: {}, timings: {} };
    expect(judgeControl(irqOn, r, ['vfio-preserve'])).toMatchObject({ caught: false, detail: expect.stringMatching(/--require vfio-preserve/) });
    expect(judgeControl(irqOn, r).skip).toBe(why);
  });
});

describe('controls', () => {
  it('every cheat is named once and each new sandbox class has its own control', () => {
    const names = controls.map((c) => c.cheat);
    expect(new Set(names).size).toBe(names.length);
    for (const cheat of ['map-locked', 'remap', 'io-uring', 'mempolicy', 'ioport', 'perf-event', 'process-madvise', 'x32', 'dev-mem', 'pci-sysfs', 'proc-alias', 'landlock']) {
      expect(names).toContain(cheat);
    }
  });

  // The agent's refusal text for each sandbox control, as guests/agent/sandbox.c writes it.
  const said: Record<string, string> = {
    'map-locked': 'seccomp refused mmap(MAP_LOCKED) x1',
    remap: 'seccomp refused mmap(MAP_FIXED) x1; seccomp refused mremap x1',
    'io-uring': 'seccomp refused io_uring_setup x1',
    mempolicy: 'seccomp refused mbind(MPOL_MF_MOVE) x1; seccomp refused set_mempolicy x1; seccomp refused get_mempolicy(MPOL_F_ADDR) x1',
    ioport: 'seccomp refused iopl x1; seccomp refused ioperm x1',
    'perf-event': 'seccomp refused perf_event_open x1',
    'process-madvise': 'seccomp refused process_madvise x1',
    x32: 'seccomp refused x32 syscall x1',
    'dev-mem': 'open watch refused /dev/mem x1 (first /dev/mem)',
    'pci-sysfs':
      'open watch refused PCI sysfs config write x1 (first /sys/bus/pci/devices/0000:00:02.0/config); open watch refused PCI sysfs resourceN x1 (first /sys/bus/pci/devices/0000:00:02.0/resource0)',
    'proc-alias': 'open watch refused /proc x4 (first proc/self/pagemap)',
    landlock: 'open watch refused what Landlock denies x1 (first /init)',
  };

  for (const [cheat, seen] of Object.entries(said)) {
    it(`${cheat} is caught by its own guard's words, and not by another control's`, () => {
      const c = controls.find((k) => k.cheat === cheat)!;
      expect(judgeControl(c, result(false, seen)).caught).toBe(true);
      for (const [other, words] of Object.entries(said)) if (other !== cheat) expect(judgeControl(c, result(false, words)).caught).toBe(false);
    });
  }
});
