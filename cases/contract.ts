// The one contract between the host and the guest agent: every name both sides spell. The agent build
// (harness/guest/agent-build.ts) turns it into vh_contract.h, and guests/agent/*.c use only its macros, so a
// name renamed or removed here breaks the agent's compile instead of drifting. Which assertions a stage
// reports, and in which order, stays with the cases (cases/*.ts, cases/handover-stages.ts).
import { claims, type Claim } from '../kernels/capabilities.ts';

/** A set of names whose keys are the names themselves: one spelling, so renaming it renames every use. */
function names<const T extends readonly string[]>(list: T): { readonly [K in T[number]]: K } {
  return Object.freeze(Object.fromEntries(list.map((n) => [n, n]))) as { readonly [K in T[number]]: K };
}

/** Every assertion the agent can report, by its KTAP name (guests/agent: VH_A_<NAME>). */
export const A = names([
  'agent_runs_as_init',
  'bound_to_vfio_pci',
  'noiommu_cdev',
  'taint_user_set',
  'bind_iommufd',
  'ioas_alloc',
  'attach_ioas',
  'edu_bar0_responds',
  'ioas_map',
  'vmpin_grows_by_mapped_size',
  'get_pa_every_page',
  'dma_roundtrip_every_page',
  'pressure_moves_unpinned',
  'pa_stable_under_pressure',
  'dma_after_pressure',
  'get_pa_unmapped_enoent',
  'get_pa_zero_length_einval',
  'get_hw_info_refused',
  'unmap_restores_vmpin',
  'sandbox_no_refusals',
  'ioas_map_file',
  'vmpin_equals_mapped',
  'luo_create_session',
  'luo_preserve_memfd',
  'luo_preserve_state',
  'kexec_file_load',
  'state_crossed_kexec',
  'luo_retrieve_memfd',
  'memfd_bytes_identical',
  'pa_unchanged_across_kexec',
  'dma_resumes',
  'luo_finish',
  'preserve_device_fd',
  'device_driver_before_userspace',
  'native_driver_never_probed',
  'bus_master_before_open',
  'bind_before_retrieve_refused',
  'retrieve_device_fd',
  'bus_master_kept',
  'not_reset',
  'preserve_iommufd',
  'retrieve_iommufd',
  'nvme_controller_ready',
  'nvme_identify',
  'nvme_io_queues',
  'nvme_write_read',
  'nvme_io_resumes',
  'dma_in_flight_issued',
  'dma_targets_preserved',
  'dma_in_flight_landed',
  'represerve_incoming_refused',
  'second_opener_refused',
  'iommu_cdev',
  'iommu_hw_info',
  'dma_outside_ioas_blocked',
  'abandoned_device_quiesced',
  'no_dma_after_finish',
  'unbind_in_progress',
  'unbind_completes',
  'unclaimed_device_stopped',
  'device_kept_after_refused_kexec',
  'owner_crash_device_stopped',
  'owner_crash_session_gone',
  'irq_race_armed',
  'set_irqs_refused_after_freeze',
  'retrieved_pages_stay_put',
]);

export type AssertionName = keyof typeof A;

/** The judge's own assertions from what the host saw of the device (QEMU's trace; harness/dma-witness.ts). */
export const HOST = names(['device_writes_preserved', 'no_device_write_after_owner_death']);

export type HostAssertionName = keyof typeof HOST;

/** The judge's own assertion for a kexec the kernel refused (the agent's `Bail out!` of BAIL.kexec_refused). */
export const kexecReboot = 'kexec_reboot';

/** The cases the agent knows, by name (guests/agent/cases.c: VH_CASE_<NAME>). */
export const CASE = names(['boot', 'noiommu-dma', 'luo-dma-buffer', 'vfio-handover', 'iommufd-handover', 'only-vfio', 'kexec-chain', 'memfd-chain', 'nvme-handover', 'dma-across-kexec', 'lifecycle-represerve', 'lifecycle-second-opener', 'iommu-dma', 'vfio-handover-iommu', 'upstream-uapi-selftest', 'lifecycle-abandoned', 'lifecycle-unbind-finish', 'lifecycle-kho-off', 'lifecycle-owner-crash', 'lifecycle-irq-after-freeze', 'lifecycle-pressure-before-map']);

export type CaseName = keyof typeof CASE;

/** The agent's kernel command-line words: vh.<key>=<value> (guests/agent: VH_KEY_<KEY>). */
const keyNames = names(['case', 'dma', 'native', 'pages', 'stage', 'stages', 'shell', 'next', 'induce', 'cheat', 'seed', 'iommufd', 'mode', 'kselftest', 'lacks']);
export type Key = keyof typeof keyNames;
export const KEY = Object.freeze(Object.fromEntries(Object.keys(keyNames).map((k) => [k, `vh.${k}`]))) as { readonly [K in Key]: `vh.${K}` };

/** How the device reaches memory (`vh.mode=`; VH_MODE_<NAME>): no IOMMU (GET_PA, physical addresses), or through a real
 * IOMMU domain (QEMU's intel-iommu; the device DMAs to IOVAs). */
export const MODE = names(['noiommu', 'iommu']);

export type Mode = keyof typeof MODE;

/** One command-line word for the agent. */
export function word(key: Key, value: string | number): string {
  return `${KEY[key]}=${value}`;
}

/** Negative controls the agent knows (`vh.cheat=`; guests/agent: VH_CHEAT_<NAME>, `-` as `_`). */
export const CHEAT = names([
  'pagemap',
  'mlock',
  'mprotect',
  'map-locked',
  'remap',
  'io-uring',
  'mempolicy',
  'ioport',
  'perf-event',
  'process-madvise',
  'x32',
  'dev-mem',
  'pci-sysfs',
  'proc-alias',
  'landlock',
  'wrong-dma',
  'check-driver',
  'irq-on',
  'dma-unpreserved',
  'map-pa',
  'dma-stray',
]);

export type Cheat = keyof typeof CHEAT;

/** Failures the agent induces for the harness's own tests (`vh.induce=`; VH_INDUCE_<NAME>). */
export const INDUCE = names(['panic', 'hang', 'garbage']);

/** Claims, as kernels/capabilities.ts names them. */
export const CLAIM = Object.freeze(Object.fromEntries(Object.keys(claims).map((c) => [c, c]))) as { readonly [K in Claim]: K };

/** The claims the agent itself finds refused, by a PRESERVE_FD errno (VH_CLAIM_<NAME>); cases/claims.ts places the rest. */
const agentClaims: Readonly<Partial<Record<Claim, Claim>>> = { [CLAIM['vfio-preserve']]: CLAIM['vfio-preserve'], [CLAIM['iommufd-preserve']]: CLAIM['iommufd-preserve'] };

/** A case's kselftests (`vh.kselftest=<program>[,<arg>...][;<program>...]`): where the initramfs holds them, how the agent's
 * test point for each is named (`<point><program>`, its KTAP nested under it), the exit status that means SKIP (VH_KSELFTEST_<NAME>). */
export const KSELFTEST = { dir: '/kselftest', point: 'kselftest:', skip_exit: '4' } as const;

/** How every fact line of the agent opens: `# vh <key>=<value>` (VH_INFO_PREFIX). */
export const INFO_PREFIX = '# vh ';

/** One `# vh <key>=<value>` line, as the agent writes it. */
export function infoLine(key: string, value: string): string {
  return `${INFO_PREFIX}${key}=${value}`;
}

/** `# vh <key>=<value>` lines the host reads for more than a fact (VH_INFO_<KEY>). */
export const INFO = names(['agent', 'dma_mark', 'preserved_pages', 'owner_killed', 'owner_reaped']);

/** The words that open `# vh agent=` lines: the stage's start, its kexec, the agent's end (VH_AGENT_<WORD>). */
export const AGENT = names(['start', 'kexec', 'done', 'crash', 'error']);

export type AgentWord = keyof typeof AGENT;

/** The start of a `# vh agent=<word>` line. */
export function marker(word: AgentWord): string {
  return infoLine(INFO.agent, word);
}

/** `# vh dma_mark=`: the first and last DMA of a stage, for the blackout (VH_DMA_MARK_<WORD>). */
export const DMA_MARK = names(['first', 'last']);

/** Why the agent bails out of its stream (`Bail out! <reason>: <detail>`; VH_BAIL_<REASON>). */
export const BAIL = { kexec_refused: 'kexec refused' } as const;

/** The sandbox's seccomp rules, by the name its refusal count gives them (VH_SECCOMP_<RULE>). */
export const SECCOMP = {
  mprotect: 'mprotect',
  pkey_mprotect: 'pkey_mprotect',
  mlock: 'mlock',
  mlock2: 'mlock2',
  mlockall: 'mlockall',
  munlock: 'munlock',
  munlockall: 'munlockall',
  remap_file_pages: 'remap_file_pages',
  process_vm_readv: 'process_vm_readv',
  process_vm_writev: 'process_vm_writev',
  move_pages: 'move_pages',
  migrate_pages: 'migrate_pages',
  mmap_locked: 'mmap(MAP_LOCKED)',
  mmap_fixed: 'mmap(MAP_FIXED)',
  mremap: 'mremap',
  io_uring_setup: 'io_uring_setup',
  io_uring_enter: 'io_uring_enter',
  io_uring_register: 'io_uring_register',
  mbind_move: 'mbind(MPOL_MF_MOVE)',
  set_mempolicy: 'set_mempolicy',
  get_mempolicy_addr: 'get_mempolicy(MPOL_F_ADDR)',
  iopl: 'iopl',
  ioperm: 'ioperm',
  perf_event_open: 'perf_event_open',
  process_madvise: 'process_madvise',
  open_by_handle_at: 'open_by_handle_at',
  x32: 'x32 syscall',
  other_arch: 'non-x86_64 syscall',
} as const;

/** What the sandbox's open watch refuses, by the label its refusal count gives it (VH_WATCH_<WHAT>). */
export const WATCH = {
  proc: '/proc',
  dev_mem: '/dev/mem',
  pci_config: 'PCI sysfs config write',
  pci_resource: 'PCI sysfs resourceN',
  landlock: 'what Landlock denies',
} as const;

/** How sandbox_no_refusals names each guard's count: `seccomp refused <rule> xN`, `open watch refused <label> xN (first <path>)`
 * (VH_REFUSED_<GUARD>). */
export const REFUSED = { seccomp: 'seccomp refused', watch: 'open watch refused' } as const;

/** What vh_contract.h holds, group by group: macro prefix and the names under it (key: macro suffix, value: string). */
export const contractGroups: { prefix: string; what: string; names: Readonly<Record<string, string>> }[] = [
  { prefix: 'VH_A', what: 'assertion names', names: A },
  { prefix: 'VH_CASE', what: 'case names', names: CASE },
  { prefix: 'VH_KEY', what: 'kernel command-line keys (vh.<key>=<value>)', names: KEY },
  { prefix: 'VH_MODE', what: 'DMA modes (vh.mode=)', names: MODE },
  { prefix: 'VH_CHEAT', what: 'negative controls (vh.cheat=)', names: CHEAT },
  { prefix: 'VH_INDUCE', what: 'induced failures (vh.induce=)', names: INDUCE },
  { prefix: 'VH_CLAIM', what: 'claims the agent finds refused (kernels/capabilities.ts)', names: agentClaims as Record<string, string> },
  { prefix: 'VH_KSELFTEST', what: "kselftests: the initramfs folder, the test point's prefix, the SKIP exit status", names: KSELFTEST },
  { prefix: 'VH_INFO', what: 'how every # vh <key>=<value> line opens', names: { prefix: INFO_PREFIX } },
  { prefix: 'VH_INFO', what: '# vh <key>= lines the host reads', names: INFO },
  { prefix: 'VH_AGENT', what: '# vh agent= marker words', names: AGENT },
  { prefix: 'VH_DMA_MARK', what: '# vh dma_mark= words', names: DMA_MARK },
  { prefix: 'VH_BAIL', what: 'Bail out! reasons', names: BAIL },
  { prefix: 'VH_SECCOMP', what: 'seccomp rules, as sandbox_no_refusals names them', names: SECCOMP },
  { prefix: 'VH_WATCH', what: 'what the open watch refuses, as sandbox_no_refusals names it', names: WATCH },
  { prefix: 'VH_REFUSED', what: 'how sandbox_no_refusals names each guard', names: REFUSED },
];
