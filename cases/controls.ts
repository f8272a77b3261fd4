// Every assertion a case declares: the guarantee it stands for, and the negative controls that show it go
// not ok. test/unit/controls.test.ts checks each control is real and README's table is this one.
import type { KselftestPoint } from './case.ts';
import { A, CHEAT, HOST, type AssertionName, type Cheat, type HostAssertionName } from './contract.ts';

/** How a control makes an assertion go not ok (or, for `skip`, keeps it from passing vacuously). */
export type Control =
  /** `vfio-handover selftest`: a driver that cheats on purpose (harness/selftest.ts). */
  | { kind: 'selftest'; cheat: Cheat }
  /** A kernel that breaks the guarantee: a folder of patches (kernels/patches/...), or a prefix 1..k of a series. */
  | { kind: 'kernel'; patches: string; prefix?: number; skip?: boolean }
  /** The reference kernel kexecs into another kernel (`--next-kernel`). */
  | { kind: 'next-kernel'; spec: string }
  /** Guest command-line words that take away what the assertion needs (`--append`). */
  | { kind: 'append'; words: string; skip?: boolean }
  /** A recorded real stream with the agent's report of this assertion turned not ok: the judge must fail the case. */
  | { kind: 'stream' };

export interface Row {
  guarantee: string;
  controls: Control[];
}

const sandbox: Cheat[] = [CHEAT.pagemap, CHEAT.mlock, CHEAT.mprotect, CHEAT['map-locked'], CHEAT.remap, CHEAT['io-uring'], CHEAT.mempolicy,
  CHEAT.ioport, CHEAT['perf-event'], CHEAT['process-madvise'], CHEAT.x32, CHEAT['dev-mem'], CHEAT['pci-sysfs'], CHEAT['proc-alias'], CHEAT.landlock];
const series = 'kernels/patches/noiommu-handover';
const stream: Control = { kind: 'stream' };

/** Keyed by assertion name, as cases declare it: every assertion the agent can report has its row. */
export const guarantees: Record<AssertionName, Row> = {
  [A.agent_runs_as_init]: { guarantee: 'the kernel boots to our agent as PID 1', controls: [stream] },
  [A.bound_to_vfio_pci]: { guarantee: 'the device binds to vfio-pci (driver_override)', controls: [{ kind: 'append', words: 'vfio.enable_unsafe_noiommu_mode=0', skip: true }, stream] },
  [A.noiommu_cdev]: { guarantee: 'a no-IOMMU cdev (/dev/vfio/devices/noiommu-vfioN) appears', controls: [stream] },
  [A.taint_user_set]: { guarantee: 'no-IOMMU use taints the kernel (TAINT_USER)', controls: [stream] },
  [A.bind_iommufd]: { guarantee: 'VFIO_DEVICE_BIND_IOMMUFD binds the cdev to an iommufd', controls: [stream] },
  [A.ioas_alloc]: { guarantee: 'IOMMU_IOAS_ALLOC gives an IOAS', controls: [stream] },
  [A.attach_ioas]: { guarantee: 'VFIO_DEVICE_ATTACH_IOMMUFD_PT attaches the device to it', controls: [stream] },
  [A.edu_bar0_responds]: { guarantee: "the device's BAR0 answers through the VFIO region mmap", controls: [stream] },
  [A.ioas_map]: { guarantee: 'IOMMU_IOAS_MAP maps the DMA buffer', controls: [stream] },
  [A.vmpin_grows_by_mapped_size]: { guarantee: "the kernel pins the buffer: the driver's VmPin grows by exactly the mapped size", controls: [stream] },
  [A.get_pa_every_page]: { guarantee: 'IOMMU_IOAS_NOIOMMU_GET_PA gives every page its physical address', controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/no-get-pa', skip: true }, stream] },
  [A.dma_roundtrip_every_page]: { guarantee: 'DMA through those addresses moves every byte of every page, and nothing else', controls: [{ kind: 'selftest', cheat: CHEAT['wrong-dma'] }, stream] },
  [A.pressure_moves_unpinned]: { guarantee: 'the pressure is real: an unpinned buffer of the same size does move to the other node', controls: [{ kind: 'append', words: 'numa=off' }, stream] },
  [A.pa_stable_under_pressure]: { guarantee: 'pinned pages keep their physical addresses under compaction and migration', controls: [{ kind: 'append', words: 'numa=off' }, stream] },
  [A.dma_after_pressure]: { guarantee: 'DMA is still byte-exact after the pressure', controls: [stream] },
  [A.get_pa_unmapped_enoent]: { guarantee: 'GET_PA on an unmapped IOVA is ENOENT', controls: [stream] },
  [A.get_pa_zero_length_einval]: { guarantee: 'GET_PA with length 0 is EINVAL', controls: [stream] },
  [A.get_hw_info_refused]: { guarantee: 'IOMMU_GET_HW_INFO is refused for a no-IOMMU device', controls: [stream] },
  [A.unmap_restores_vmpin]: { guarantee: 'IOMMU_IOAS_UNMAP unpins: VmPin returns to where it was', controls: [stream] },
  [A.sandbox_no_refusals]: { guarantee: 'no mprotect, mlock, /proc or other trick anywhere in the stage (seccomp, Landlock, the open watch)', controls: [...sandbox.map((cheat) => ({ kind: 'selftest', cheat }) as Control), stream] },
  [A.ioas_map_file]: { guarantee: 'IOMMU_IOAS_MAP_FILE maps the LUO memfd', controls: [stream] },
  [A.vmpin_equals_mapped]: { guarantee: "the driver's VmPin equals what it mapped", controls: [stream] },
  [A.luo_create_session]: { guarantee: 'LUO opens a session', controls: [stream] },
  [A.luo_preserve_memfd]: { guarantee: 'LUO preserves the DMA memfd', controls: [stream] },
  [A.luo_preserve_state]: { guarantee: "LUO preserves the agent's state memfd", controls: [stream] },
  [A.kexec_file_load]: { guarantee: 'kexec_file_load accepts the next kernel', controls: [stream] },
  [A.state_crossed_kexec]: { guarantee: 'the next kernel reads what this one handed over', controls: [{ kind: 'next-kernel', spec: 'debian:7.3' }, stream] },
  [A.luo_retrieve_memfd]: { guarantee: 'the DMA memfd is retrieved after the kexec', controls: [stream] },
  [A.memfd_bytes_identical]: { guarantee: "the memfd's bytes are exactly what the last stage left", controls: [stream] },
  [A.pa_unchanged_across_kexec]: { guarantee: 'the memfd sits on the same physical pages after the kexec', controls: [stream] },
  [A.dma_resumes]: { guarantee: 'DMA into the preserved pages works again after the kexec', controls: [{ kind: 'kernel', patches: series, prefix: 3 }, { kind: 'kernel', patches: series, prefix: 4 }, stream] },
  [A.luo_finish]: { guarantee: 'LUO FINISHes the sessions, also while a sysfs unbind of the retrieved device waits for its file (a hang is an ERROR naming the phase)', controls: [{ kind: 'kernel', patches: series }, stream] },
  [A.preserve_device_fd]: { guarantee: 'LUO preserves the vfio cdev fd (and keeps doing so at every hop)', controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/one-hop' }, stream] },
  [A.device_driver_before_userspace]: { guarantee: 'after the kexec, before userspace acts, the device is bound to vfio-pci and nothing else', controls: [{ kind: 'selftest', cheat: CHEAT['check-driver'] }, stream] },
  [A.native_driver_never_probed]: { guarantee: "no driver but vfio-pci ever probed or held the device in the next kernel (the driver core's probe record, every driver's messages)", controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/late-reservation' }, { kind: 'append', words: 'initcall_debug=0' }, stream] },
  [A.bus_master_before_open]: { guarantee: 'bus mastering survives the kexec, before anything opens the device', controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/bus-master-cleared' }, { kind: 'kernel', patches: series, prefix: 2 }, { kind: 'kernel', patches: series, prefix: 3 }, stream] },
  [A.bind_before_retrieve_refused]: { guarantee: 'no one binds the handed-over device before its LUO owner retrieves it', controls: [{ kind: 'kernel', patches: series, prefix: 3 }, { kind: 'kernel', patches: series, prefix: 4 }, stream] },
  [A.retrieve_device_fd]: { guarantee: 'RETRIEVE_FD gives the vfio cdev back', controls: [{ kind: 'kernel', patches: series, prefix: 2 }, stream] },
  [A.bus_master_kept]: { guarantee: 'the first open of the retrieved device keeps bus mastering', controls: [{ kind: 'kernel', patches: series, prefix: 4 }, stream] },
  [A.not_reset]: { guarantee: 'the device was not reset across the kexec or on its first open (state written into it in stage 1 is still there)', controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/reset-on-open' }, stream] },
  [A.preserve_iommufd]: { guarantee: 'LUO preserves the iommufd', controls: [stream] },
  [A.retrieve_iommufd]: { guarantee: 'the iommufd is retrieved after the kexec', controls: [stream] },
  [A.nvme_controller_ready]: { guarantee: 'an nvme controller comes up from userspace with its admin queues in the LUO memfd', controls: [stream] },
  [A.nvme_identify]: { guarantee: "Identify Controller lands in the page GET_PA named (QEMU's serial read back)", controls: [stream] },
  [A.nvme_io_queues]: { guarantee: 'an I/O queue pair is created in the memfd', controls: [stream] },
  [A.nvme_write_read]: { guarantee: 'a page written to the namespace reads back byte for byte', controls: [stream] },
  [A.dma_in_flight_issued]: { guarantee: 'reads are queued to the device and left in flight as the kexec starts', controls: [stream] },
  [A.dma_targets_preserved]: { guarantee: 'DMA in flight across the kexec targets only preserved pages (read from the device\'s submission queue in the memfd)', controls: [{ kind: 'selftest', cheat: CHEAT['dma-unpreserved'] }, stream] },
  [A.dma_in_flight_landed]: { guarantee: 'DMA issued before the kexec lands during it, whole, in the preserved pages, with its completions in the queue (where it does not, QEMU\'s trace says whether bus master was cleared at freeze)', controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/bus-master-cleared' }, stream] },
  [A.represerve_incoming_refused]: { guarantee: 'a handed-over device cannot be preserved again before its session is finished', controls: [stream] },
  [A.second_opener_refused]: { guarantee: "between RETRIEVE_FD and its owner's bind, no other opener can bind the device (and take the owner's no-reset open)", controls: [{ kind: 'kernel', patches: series }, stream] },
  [A.retrieved_pages_stay_put]: { guarantee: "between RETRIEVE_FD and IOMMU_IOAS_MAP_FILE the retrieved memfd's pages stay put: compaction and move_pages to the other node move none (each page's move_pages status reported)", controls: [{ kind: 'kernel', patches: series }, { kind: 'kernel', patches: 'kernels/patches/noiommu-continuous-dma', prefix: 8 }, { kind: 'append', words: 'numa=off' }, stream] },
  [A.abandoned_device_quiesced]: { guarantee: 'a handed-over device nobody retrieved: FINISH is refused, or the device is stopped (bus master off in its config space)', controls: [{ kind: 'kernel', patches: series }, stream] },
  [A.no_dma_after_finish]: { guarantee: 'no DMA the previous kernel queued lands after FINISH of a session whose device nobody retrieved', controls: [{ kind: 'kernel', patches: series }, stream] },
  [A.unbind_in_progress]: { guarantee: "a sysfs unbind of the retrieved device, from another thread, reaches VFIO and waits for the device's file (its request eventfd signalled)", controls: [stream] },
  [A.unbind_completes]: { guarantee: 'FINISH during that unbind completes, and the unbind returns, the device driverless, once its owner closes it', controls: [stream] },
  [A.owner_crash_device_stopped]: { guarantee: 'the owner that preserved a running device dies (SIGKILL) before it kexecs: the device is stopped (bus master off in its config space)', controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/unpreserve-keeps-file' }, stream] },
  [A.irq_race_armed]: { guarantee: 'the race is set up: its log memfd preserved, a SET_IRQS accepted and a LUO session ioctl answered before the reboot', controls: [stream] },
  [A.set_irqs_refused_after_freeze]: { guarantee: 'once a preserved device is frozen for the kexec, VFIO_DEVICE_SET_IRQS from another thread is refused, up to the kexec', controls: [{ kind: 'kernel', patches: series }, stream] },
  [A.owner_crash_session_gone]: { guarantee: "the dead owner's LUO session is torn down with it: /dev/liveupdate is free and a session of the same name is accepted", controls: [stream] },
  [A.unclaimed_device_stopped]: { guarantee: 'a next kernel booted with kho=off takes nothing over, and no device the previous kernel handed over is left bus mastering in it', controls: [{ kind: 'kernel', patches: series }, stream] },
  [A.device_kept_after_refused_kexec]: { guarantee: 'a kexec the kernel refuses (into a kernel booted with kho=off) leaves the device with its owner: bus master on, DMA over every page byte-exact', controls: [stream] },
  [A.nvme_io_resumes]: { guarantee: "after the kexec the previous stage's I/O queues work on, without reinitialising the controller", controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/reset-on-open' }, stream] },
  [A.iommu_cdev]: { guarantee: 'behind an IOMMU the device has an IOMMU group and a plain cdev (/dev/vfio/devices/vfioN)', controls: [{ kind: 'append', words: 'intel_iommu=off', skip: true }, stream] },
  [A.iommu_hw_info]: { guarantee: 'IOMMU_GET_HW_INFO names the IOMMU behind the device (Intel VT-d)', controls: [stream] },
  [A.dma_outside_ioas_blocked]: { guarantee: 'behind an IOMMU the device reaches only what the IOAS maps: a transfer to an IOVA it does not map lands in no page and the IOMMU faults it (its fault record)', controls: [{ kind: 'selftest', cheat: CHEAT['map-pa'] }, stream] },
};

/** A kselftest's test point: its own KTAP, nested under it, judged test by test (harness/verdict.ts). */
export const kselftestGuarantees: Record<KselftestPoint, Row> = {
  'kselftest:vfio_pci_liveupdate_uapi_test': {
    guarantee: "the series' own uapi selftest passes on the device: every test of its KTAP ok (or SKIP with its reason), exit status 0",
    controls: [{ kind: 'append', words: 'vh.kselftest=vfio_pci_liveupdate_uapi_test' }, stream],
  },
};

/** The judge's own assertions from QEMU's trace of the device (cases with dmaWitness). */
export const hostGuarantees: Record<HostAssertionName, Row> = {
  [HOST.device_writes_preserved]: {
    guarantee: "every write the device makes across the kexec lands in a page the previous stage preserved, never in the next kernel's memory (QEMU's trace: each read's data, each completion)",
    controls: [{ kind: 'selftest', cheat: CHEAT['dma-stray'] }, stream],
  },
  [HOST.no_device_write_after_owner_death]: {
    guarantee: "reads the owner queued are pending when it is SIGKILLed, and the device writes nothing after the owner is reaped, when none of its pages is held any more (QEMU's trace: each read's data, each completion)",
    controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/unpreserve-keeps-file' }, stream],
  },
};

/** A kernel-warning splat is the harness's own assertion, on every case. */
export const consoleGuarantees: Record<string, Row> = {
  kernel_warnings: { guarantee: 'no WARNING, lockdep, refcount, UBSAN, KASAN or BUG report during the case', controls: [{ kind: 'kernel', patches: 'kernels/patches/controls/warn-at-boot' }, stream] },
};

export function describeControl(c: Control): string {
  switch (c.kind) {
    case 'selftest':
      return `selftest \`${c.cheat}\``;
    case 'kernel':
      return `${c.skip ? 'SKIP, never ok, on ' : ''}\`${c.patches}\`${c.prefix ? ` patches 1..${c.prefix} (check-series)` : ''}`;
    case 'next-kernel':
      return `\`--next-kernel ${c.spec}\` from the reference series`;
    case 'append':
      return `${c.skip ? 'SKIP, never ok, with ' : ''}\`--append ${c.words}\``;
    case 'stream':
      return 'recorded stream';
  }
}

/** README's table: guarantee -> assertion -> controls, one row per assertion. */
export function controlsTable(): string[] {
  const rows = Object.entries({ ...guarantees, ...hostGuarantees, ...kselftestGuarantees, ...consoleGuarantees }).map(
    ([name, r]) => `| ${r.guarantee} | \`${name}\` | ${r.controls.map(describeControl).join('; ')} |`,
  );
  return ['| guarantee | assertion | control that shows it fail |', '| --- | --- | --- |', ...rows];
}
