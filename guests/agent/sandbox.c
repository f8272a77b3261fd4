#include "sandbox.h"
#include "vfio.h"
#include "vh_contract.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/magic.h>
#include <linux/mempolicy.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>

struct vh_shared *vh_shared;

void shared_init(void)
{
	void *p = mmap(NULL, sizeof(struct vh_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	vh_shared = p == MAP_FAILED ? calloc(1, sizeof(struct vh_shared)) : p;
}

/* What seccomp refuses: syscalls legacy no-IOMMU userspace uses to keep memory in place or to peek
 * at it, and their equivalents. arg >= 0: only when that argument has a bit of mask set. Each
 * refusal traps with its index as SECCOMP_RET_DATA, so on_sigsys counts it by rule. */
static const struct rule {
	int nr, arg;
	uint32_t mask;
	const char *name;
} refused[] = {
	{ SYS_mprotect, -1, 0, VH_SECCOMP_MPROTECT },
	{ SYS_pkey_mprotect, -1, 0, VH_SECCOMP_PKEY_MPROTECT },
	{ SYS_mlock, -1, 0, VH_SECCOMP_MLOCK },
	{ SYS_mlock2, -1, 0, VH_SECCOMP_MLOCK2 },
	{ SYS_mlockall, -1, 0, VH_SECCOMP_MLOCKALL },
	{ SYS_munlock, -1, 0, VH_SECCOMP_MUNLOCK },
	{ SYS_munlockall, -1, 0, VH_SECCOMP_MUNLOCKALL },
	{ SYS_remap_file_pages, -1, 0, VH_SECCOMP_REMAP_FILE_PAGES },
	{ SYS_process_vm_readv, -1, 0, VH_SECCOMP_PROCESS_VM_READV },
	{ SYS_process_vm_writev, -1, 0, VH_SECCOMP_PROCESS_VM_WRITEV },
	{ SYS_move_pages, -1, 0, VH_SECCOMP_MOVE_PAGES },
	{ SYS_migrate_pages, -1, 0, VH_SECCOMP_MIGRATE_PAGES },
	/* The driver maps BARs and buffers, but never locked and never over an existing mapping. */
	{ SYS_mmap, 3, MAP_LOCKED, VH_SECCOMP_MMAP_LOCKED },
	{ SYS_mmap, 3, MAP_FIXED, VH_SECCOMP_MMAP_FIXED },
	{ SYS_mremap, -1, 0, VH_SECCOMP_MREMAP },
	/* io_uring opens files past the open watch, and REGISTER_BUFFERS is a long-term pin. */
	{ SYS_io_uring_setup, -1, 0, VH_SECCOMP_IO_URING_SETUP },
	{ SYS_io_uring_enter, -1, 0, VH_SECCOMP_IO_URING_ENTER },
	{ SYS_io_uring_register, -1, 0, VH_SECCOMP_IO_URING_REGISTER },
	{ SYS_mbind, 5, MPOL_MF_MOVE | MPOL_MF_MOVE_ALL, VH_SECCOMP_MBIND_MOVE },
	{ SYS_set_mempolicy, -1, 0, VH_SECCOMP_SET_MEMPOLICY },
	{ SYS_get_mempolicy, 4, MPOL_F_ADDR, VH_SECCOMP_GET_MEMPOLICY_ADDR },
	{ SYS_iopl, -1, 0, VH_SECCOMP_IOPL },
	{ SYS_ioperm, -1, 0, VH_SECCOMP_IOPERM },
	/* PERF_SAMPLE_PHYS_ADDR hands out physical addresses. */
	{ SYS_perf_event_open, -1, 0, VH_SECCOMP_PERF_EVENT_OPEN },
	{ SYS_process_madvise, -1, 0, VH_SECCOMP_PROCESS_MADVISE },
	/* Opens a file past the open watch. */
	{ SYS_open_by_handle_at, -1, 0, VH_SECCOMP_OPEN_BY_HANDLE_AT },
};
#define NREFUSED (sizeof(refused) / sizeof(refused[0]))
/* Data values past the table: a syscall of another ABI, which the table's numbers do not cover. */
#define TRAP_X32 NREFUSED
#define TRAP_ARCH (NREFUSED + 1)

enum { OBS_VMPIN = 1, OBS_TAINT, OBS_PRESSURE, OBS_REFUSALS, OBS_LISTENER, OBS_PANIC };
struct obs_req {
	int op;
	pid_t pid; /* who asks: the driver, or a process it forked (lifecycle-owner-crash's owner) */
	uint64_t va, len;
};
struct obs_rep {
	long value;
	struct vh_pressure pressure;
	char text[1024];
};

/* The child's ends of the two observer pipes, set once by sandbox_enter: one pair per process.
 * Requests and replies are fixed-size (< PIPE_BUF). */
static struct {
	int req_w, rep_r;
} to_observer = { -1, -1 };

static long ask(int op, uint64_t va, uint64_t len, struct obs_rep *out);

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	vh_shared->trapped[(unsigned)si->si_errno % (sizeof(vh_shared->trapped) / sizeof(vh_shared->trapped[0]))]++;
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
}

#define EMIT(insn) (f[n++] = (struct sock_filter)insn)
#define LOAD(field) EMIT(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(field)))
#define TRAP(i) EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP | (uint32_t)(i)))

static int install_seccomp(void)
{
	struct sock_filter f[8 + 5 * NREFUSED + 8];
	struct sock_fprog prog = { .filter = f };
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	static const int watched[] = { SYS_open, SYS_openat, SYS_openat2, SYS_creat };
	unsigned n = 0;
	int listener;

	static_assert(TRAP_ARCH < sizeof(vh_shared->trapped) / sizeof(vh_shared->trapped[0]), "one counter per rule");
	LOAD(offsetof(struct seccomp_data, arch));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
	TRAP(TRAP_ARCH);
	/* x32 numbers carry __X32_SYSCALL_BIT under the same arch: none of the table's numbers match them. */
	LOAD(offsetof(struct seccomp_data, nr));
	EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, __X32_SYSCALL_BIT, 0, 1));
	TRAP(TRAP_X32);
	for (unsigned i = 0; i < NREFUSED; i++) {
		int arg = refused[i].arg;

		LOAD(offsetof(struct seccomp_data, nr));
		EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)refused[i].nr, 0, arg < 0 ? 1 : 3));
		if (arg >= 0) {
			/* The flag bits live in the argument's low word (little-endian). */
			LOAD(offsetof(struct seccomp_data, args) + 8 * (unsigned)arg);
			EMIT(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, refused[i].mask, 0, 1));
		}
		TRAP(i);
	}
	/* Every open goes past the observer, which resolves the path and refuses what the sandbox denies. */
	LOAD(offsetof(struct seccomp_data, nr));
	for (unsigned i = 0; i < sizeof(watched) / sizeof(watched[0]); i++)
		EMIT(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)watched[i], (unsigned char)(sizeof(watched) / sizeof(watched[0]) - i), 0));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	EMIT(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF));
	prog.len = (unsigned short)n;
	if (sigaction(SIGSYS, &sa, NULL))
		return -errno;
	listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	return listener < 0 ? -errno : listener;
}

/* The only paths the driver may open, for Landlock and for the open watch alike. */
enum { RD_FILE, RD_DIR, RW_DEV, RW_DIR };
static const struct {
	const char *path;
	int kind;
} sandbox_paths[] = {
	{ "/dev/vfio", RW_DIR },	 { "/dev/iommu", RW_DEV },	    { "/dev/liveupdate", RW_DEV },
	{ "/dev/kmsg", RD_FILE },	 { "/sys/bus/pci", RW_DIR },	    { "/sys/devices", RW_DIR },
	{ "/sys/module/vfio", RD_DIR },	 { "/sys/firmware/initrd", RD_FILE }, { "/kernel", RD_FILE },
	{ "/next-kernel", RD_FILE },
};
#define NPATHS (sizeof(sandbox_paths) / sizeof(sandbox_paths[0]))

static int landlock_allow(int rs, const char *path, uint64_t access)
{
	struct landlock_path_beneath_attr pb = { .allowed_access = access };
	int err = 0;

	pb.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (pb.parent_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0))
		err = -errno;
	close(pb.parent_fd);
	return err;
}

/* No /proc at all: only the device nodes and the sysfs the driver needs. */
static int install_landlock(void)
{
	const uint64_t file_r = LANDLOCK_ACCESS_FS_READ_FILE;
	uint64_t dev = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
	uint64_t dir_r = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	uint64_t dir_rw = dir_r | LANDLOCK_ACCESS_FS_WRITE_FILE;
	struct landlock_ruleset_attr attr = { .handled_access_fs = (1ull << 13) - 1 };
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	int rs, err = 0;

	if (abi < 0)
		return -errno;
	if (abi >= 2)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5) {
		attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
		dev |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
		dir_rw |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	}
	rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (rs < 0)
		return -errno;
	for (unsigned i = 0; i < NPATHS && !err; i++) {
		int kind = sandbox_paths[i].kind;

		err = landlock_allow(rs, sandbox_paths[i].path, kind == RD_FILE ? file_r : kind == RD_DIR ? dir_r : kind == RW_DEV ? dev : dir_rw);
	}
	if (!err && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = -errno;
	if (!err && syscall(SYS_landlock_restrict_self, rs, 0))
		err = -errno;
	close(rs);
	return err;
}

int sandbox_enter(int req_w, int rep_r)
{
	int err, listener;

	to_observer.req_w = req_w;
	to_observer.rep_r = rep_r;
	err = install_landlock();
	if (err) {
		snprintf(vh_shared->sandbox_error, sizeof(vh_shared->sandbox_error), "Landlock: %s", strerrorname_np(-err));
		return err;
	}
	listener = install_seccomp();
	if (listener < 0) {
		snprintf(vh_shared->sandbox_error, sizeof(vh_shared->sandbox_error), "seccomp: %s", strerrorname_np(-listener));
		return listener;
	}
	/* The observer takes the listener out of this process with pidfd_getfd. */
	err = (int)ask(OBS_LISTENER, (uint64_t)listener, 0, NULL);
	close(listener);
	if (err)
		snprintf(vh_shared->sandbox_error, sizeof(vh_shared->sandbox_error), "handing the open watch to the observer: %s", strerrorname_np(-err));
	return err;
}

static long ask(int op, uint64_t va, uint64_t len, struct obs_rep *out)
{
	struct obs_req q = { .op = op, .pid = getpid(), .va = va, .len = len };
	static struct obs_rep r;

	r.value = -EPIPE;
	if (to_observer.req_w < 0 || write(to_observer.req_w, &q, sizeof(q)) != sizeof(q) ||
	    read(to_observer.rep_r, &r, sizeof(r)) != sizeof(r))
		r.value = -EPIPE;
	if (out)
		*out = r;
	return r.value;
}

long observe_vmpin_kb(void)
{
	return ask(OBS_VMPIN, 0, 0, NULL);
}

long observe_taint(void)
{
	return ask(OBS_TAINT, 0, 0, NULL);
}

int observe_pressure(void *va, uint64_t len, struct vh_pressure *out)
{
	static struct obs_rep r;
	long v = ask(OBS_PRESSURE, (uintptr_t)va, len, &r);

	*out = r.pressure;
	if (v < 0)
		snprintf(out->text, sizeof(out->text), "the observer did not answer: %s", strerrorname_np((int)-v));
	return (int)v;
}

int pressure_applied(const struct vh_pressure *p)
{
	return p->target >= 0 && p->pages > 0 && !p->refused && p->moved + p->held == p->pages;
}

void observe_induce_panic(void)
{
	ask(OBS_PANIC, 0, 0, NULL);
}

long observe_refusals(char *text, size_t cap)
{
	static struct obs_rep r;
	long v = ask(OBS_REFUSALS, 0, 0, &r);

	snprintf(text, cap, "%s", r.text);
	return v;
}

/* ---- observer (PID 1) ---- */

/* A sysfs node list ("0-1,3") as a bit mask, and as written; 0 when the file is missing (no NUMA). */
static uint64_t node_list(const char *path, char *text, size_t cap)
{
	char *p = text;
	uint64_t mask = 0;

	if (read_file(path, text, cap)) {
		snprintf(text, cap, "none");
		return 0;
	}
	while (*p >= '0' && *p <= '9') {
		long a = strtol(p, &p, 10), b = a;

		if (*p == '-')
			b = strtol(p + 1, &p, 10);
		for (long k = a; k <= b && k < 64; k++)
			mask |= 1ull << k;
		if (*p != ',')
			break;
		p++;
	}
	return mask;
}

/* The first node with memory other than the page's own. */
static int other_node(uint64_t with_memory, int node)
{
	for (int k = 0; k < 64; k++)
		if ((with_memory >> k & 1) && k != node)
			return k;
	return -1;
}

/* Appends to the pressure line; once it is full, what follows is dropped. */
static __attribute__((format(printf, 2, 3))) void say(struct vh_pressure *pr, const char *fmt, ...)
{
	size_t o = strlen(pr->text);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(pr->text + o, sizeof(pr->text) - o, fmt, ap);
	va_end(ap);
}

/* " nodeK xC" for every node that holds some of the pages. */
static void say_nodes(struct vh_pressure *pr, const int *node, size_t n)
{
	uint32_t count[64] = { 0 };

	for (size_t i = 0; i < n; i++)
		if (node[i] >= 0 && node[i] < 64)
			count[node[i]]++;
	for (int k = 0; k < 64; k++)
		if (count[k])
			say(pr, " node%d x%u", k, count[k]);
}

/* The child's pages as move_pages takes them, and the node of each before and after the push. */
struct pages {
	pid_t child;
	size_t n;
	void **at;
	int *before, *after;
	char *tried; /* per page: R refused, H the kernel could not migrate it, T tried */
};

/* Each page to a node with memory other than its own, one move_pages call per page. */
static void push_each_page(const struct pages *pg, uint64_t with_memory, struct vh_pressure *pr)
{
	for (size_t i = 0; i < pg->n; i++) {
		int to = pg->before[i] >= 0 ? other_node(with_memory, pg->before[i]) : -1, st = 0;
		long one;

		pg->tried[i] = 'R';
		if (to < 0) {
			pr->refused++;
			pr->first_err = pr->first_err ?: pg->before[i] < 0 ? -pg->before[i] : ENODEV;
			continue;
		}
		if (pr->target < 0)
			pr->target = to;
		one = syscall(SYS_move_pages, pg->child, 1, &pg->at[i], &to, &st, MPOL_MF_MOVE_ALL);
		if (one == 1) {
			pr->held++;
			pg->tried[i] = 'H';
		} else if (one < 0 || st < 0) {
			pr->refused++;
			pr->first_err = pr->first_err ?: one < 0 ? errno : -st;
		} else {
			pg->tried[i] = 'T';
		}
	}
}

/* One letter a page, in page order: M on the target now, H the kernel could not migrate it, R refused, ? tried yet not there. */
static void say_each_page(struct vh_pressure *pr, const struct pages *pg)
{
	say(pr, "; each page (M moved, H held, R refused): ");
	for (size_t i = 0; i < pg->n; i++)
		say(pr, "%c", pg->after[i] == pr->target ? 'M' : pg->tried[i] == 'T' ? '?' : pg->tried[i]);
}

/* move_pages' own status after the push: which node holds each page now. */
static void pages_after(const struct pages *pg, uint64_t with_cpus, struct vh_pressure *pr)
{
	long rc = syscall(SYS_move_pages, pg->child, pg->n, pg->at, NULL, pg->after, 0);
	int err = errno;

	for (size_t i = 0; rc == 0 && i < pg->n; i++)
		pr->moved += pg->after[i] == pr->target;
	say(pr, "; move_pages(MPOL_MF_MOVE_ALL) one page at a time to node%d%s: %u moved, %u not migrated, %u refused%s%s", pr->target,
	    with_cpus >> pr->target & 1 ? "" : " (no CPUs)", pr->moved, pr->held, pr->refused, pr->first_err ? " " : "",
	    pr->first_err ? strerrorname_np(pr->first_err) : "");
	if (rc) {
		say(pr, "; where they are afterwards: %s", strerrorname_np(err));
	} else {
		say(pr, "; pages after:");
		say_nodes(pr, pg->after, pg->n);
		say_each_page(pr, pg);
	}
	/* A page the kernel reported held yet found on the target afterwards counts once, as moved. */
	if (pr->held > pg->n - pr->moved)
		pr->held = (uint32_t)(pg->n - pr->moved);
}

static void push(const struct pages *pg, uint64_t va, uint64_t with_memory, uint64_t with_cpus, struct vh_pressure *pr)
{
	for (size_t i = 0; i < pg->n; i++)
		pg->at[i] = (void *)(uintptr_t)(va + i * 4096);
	/* Where each page is now. */
	if (syscall(SYS_move_pages, pg->child, pg->n, pg->at, NULL, pg->before, 0) < 0) {
		pr->refused = (uint32_t)pg->n;
		pr->first_err = errno;
		say(pr, "move_pages could not say where the pages are: %s", strerrorname_np(pr->first_err));
		return;
	}
	push_each_page(pg, with_memory, pr);
	say(pr, "pages before:");
	say_nodes(pr, pg->before, pg->n);
	if (pr->target < 0) {
		say(pr, "; no other node with memory to move them to");
		return;
	}
	pages_after(pg, with_cpus, pr);
}

/* Pushes each page of the child's [va, va+len) to another node: move_pages one page at a time
 * (a failed batch would leave the pages after it untried), MPOL_MF_MOVE_ALL so that sharing
 * cannot excuse a page; nodes without CPUs are fine targets (N_MEMORY is what counts). */
static void pressure(pid_t child, uint64_t va, uint64_t len, struct obs_rep *r)
{
	struct vh_pressure *pr = &r->pressure;
	char mem_s[64], cpu_s[64];
	uint64_t mem = node_list("/sys/devices/system/node/has_memory", mem_s, sizeof(mem_s));
	uint64_t cpu = node_list("/sys/devices/system/node/has_cpu", cpu_s, sizeof(cpu_s));
	size_t n = len / 4096;
	struct pages pg = {
		.child = child,
		.n = n,
		.at = calloc(n ? n : 1, sizeof(void *)),
		.before = calloc(n ? n : 1, sizeof(int)),
		.after = calloc(n ? n : 1, sizeof(int)),
		.tried = calloc(n ? n : 1, 1),
	};
	int cerr = write_file("/proc/sys/vm/compact_memory", "1");

	memset(pr, 0, sizeof(*pr));
	pr->target = -1;
	pr->pages = (uint32_t)n;
	r->value = 0;
	say(pr, "compaction %s; ", cerr ? strerrorname_np(-cerr) : "done");
	if (!mem)
		say(pr, "no NUMA nodes (no /sys/devices/system/node/has_memory); ");
	else
		say(pr, "nodes with memory %s, with CPUs %s; ", mem_s, cpu_s);
	if (pg.at && pg.before && pg.after && pg.tried)
		push(&pg, va, mem, cpu, pr);
	free(pg.tried);
	free(pg.at);
	free(pg.before);
	free(pg.after);
}

/* What the open watch refuses, each counted with the first path as the driver wrote it. */
enum { W_PROC, W_DEVMEM, W_PCI_CONFIG, W_PCI_RESOURCE, W_LANDLOCK, W_N };
static const char *const watch_label[W_N] = {
	[W_PROC] = VH_WATCH_PROC,
	[W_DEVMEM] = VH_WATCH_DEV_MEM,
	[W_PCI_CONFIG] = VH_WATCH_PCI_CONFIG,
	[W_PCI_RESOURCE] = VH_WATCH_PCI_RESOURCE,
	[W_LANDLOCK] = VH_WATCH_LANDLOCK,
};
/* The open watch's counts: the observer's, for the one child it watches in this boot. */
static struct {
	uint32_t refused[W_N];
	char first[W_N][160];
} watch;

static const char *trap_name(unsigned i)
{
	return i < NREFUSED ? refused[i].name : i == TRAP_X32 ? VH_SECCOMP_X32 : VH_SECCOMP_OTHER_ARCH;
}

static void refusals(struct obs_rep *r)
{
	size_t o = 0, cap = sizeof(r->text);
	long total = 0;

	r->text[0] = 0;
	for (unsigned i = 0; i <= TRAP_ARCH; i++) {
		uint32_t c = vh_shared->trapped[i];

		if (!c)
			continue;
		total += c;
		o += (size_t)snprintf(r->text + o, o < cap ? cap - o : 0, "%s" VH_REFUSED_SECCOMP " %s x%u", o ? "; " : "", trap_name(i), c);
	}
	for (unsigned w = 0; w < W_N; w++) {
		if (!watch.refused[w])
			continue;
		total += watch.refused[w];
		o += (size_t)snprintf(r->text + o, o < cap ? cap - o : 0, "%s" VH_REFUSED_WATCH " %s x%u (first %s)", o ? "; " : "", watch_label[w],
				      watch.refused[w], watch.first[w]);
	}
	if (!total)
		snprintf(r->text, cap, "none");
	r->value = total;
}

/* The driver or a child of it: whoever the observer must look at for a request, or an open the watch judges. */
static pid_t watched(pid_t child, pid_t pid)
{
	char path[64], buf[512], *pp;

	if (pid == child || pid <= 0)
		return child;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, buf, sizeof(buf)))
		return child;
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after its last ')'. */
	pp = strrchr(buf, ')');
	return pp && atoi(pp + 3) == child ? pid : child;
}

static void serve(pid_t child, int req_r, int rep_w, int *listener)
{
	struct obs_req q;
	static struct obs_rep r;

	if (read(req_r, &q, sizeof(q)) != sizeof(q))
		return;
	memset(&r, 0, sizeof(r));
	child = watched(child, q.pid);
	if (q.op == OBS_VMPIN) {
		r.value = vmpin_kb(child);
	} else if (q.op == OBS_TAINT) {
		r.value = taint_mask();
	} else if (q.op == OBS_PRESSURE) {
		pressure(child, q.va, q.len, &r);
	} else if (q.op == OBS_REFUSALS) {
		refusals(&r);
	} else if (q.op == OBS_PANIC) {
		/* Induced failure: the guest kernel panics mid-stage, as a kernel bug would make it. */
		write_file("/proc/sysrq-trigger", "c");
	} else if (q.op == OBS_LISTENER) {
		int pidfd = (int)syscall(SYS_pidfd_open, child, 0);

		*listener = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, (int)q.va, 0);
		r.value = *listener < 0 ? -errno : 0;
		if (pidfd >= 0)
			close(pidfd);
	}
	if (write(rep_w, &r, sizeof(r)) != sizeof(r))
		return;
}

/* A string from the child's memory, read a page at a time so the read never crosses into an unmapped page. */
static int child_string(int memfd, uint64_t addr, char *out, size_t cap)
{
	size_t got = 0;

	while (got < cap - 1) {
		size_t chunk = 4096 - ((addr + got) & 4095);
		ssize_t n;

		if (chunk > cap - 1 - got)
			chunk = cap - 1 - got;
		n = pread(memfd, out + got, chunk, (off_t)(addr + got));
		if (n <= 0)
			return -1;
		if (memchr(out + got, 0, (size_t)n))
			return 0;
		got += (size_t)n;
	}
	out[cap - 1] = 0;
	return 0;
}

/* Where the child's open lands, resolved by the observer as the kernel would resolve it. */
struct target {
	char canon[PATH_MAX]; /* canonical path of what was reached, with any unresolved rest appended */
	int exists;           /* every component resolved */
	int proc;             /* the walk entered procfs */
	struct stat st;
};

static int same_file(int a, int b)
{
	struct stat x, y;

	return !fstat(a, &x) && !fstat(b, &y) && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

static int in_procfs(int fd)
{
	struct statfs s;

	return !fstatfs(fd, &s) && s.f_type == PROC_SUPER_MAGIC;
}

/* A path walk in progress: what is left of the path, and the directories it stands in and may not climb above. */
struct walk {
	char rest[PATH_MAX * 2];
	size_t pos;
	int root, cur, hops;
};

/* From the child's cwd or dirfd, or from its root for an absolute path (opened through /proc/<pid>,
 * which follows to the child's own file). */
static void walk_start(struct walk *w, pid_t child, int dirfd, const char *raw, int in_root)
{
	char pp[64];

	snprintf(pp, sizeof(pp), dirfd == AT_FDCWD ? "/proc/%d/cwd" : "/proc/%d/fd/%d", (int)child, dirfd);
	w->cur = open(pp, O_PATH | O_CLOEXEC);
	snprintf(pp, sizeof(pp), "/proc/%d/root", (int)child);
	w->root = in_root ? dup(w->cur) : open(pp, O_PATH | O_CLOEXEC);
	snprintf(w->rest, sizeof(w->rest), "%s", raw);
	w->pos = 0;
	w->hops = 0;
	if (w->cur >= 0 && w->root >= 0 && w->rest[0] == '/') {
		close(w->cur);
		w->cur = dup(w->root);
	}
}

/* The link's target takes the link's place; an absolute one starts again at the root. 0, or -1 to stop. */
static int walk_follow(struct walk *w, int link_fd)
{
	static char tail[PATH_MAX * 2], link[PATH_MAX];
	ssize_t n = readlinkat(link_fd, "", link, sizeof(link) - 1);

	close(link_fd);
	if (n <= 0)
		return -1;
	link[n] = 0;
	snprintf(tail, sizeof(tail), "%s", w->rest + w->pos);
	if ((size_t)n + strlen(tail) >= sizeof(w->rest))
		return -1;
	memcpy(w->rest, link, (size_t)n);
	memcpy(w->rest + n, tail, strlen(tail) + 1);
	w->pos = 0;
	if (w->rest[0] == '/') {
		close(w->cur);
		w->cur = dup(w->root);
	}
	return 0;
}

/* One component further; 0 to go on, -1 when the walk ends here (in procfs, at the end, or at what is not there). */
static int walk_step(struct walk *w, int follow_last, struct target *t)
{
	char comp[NAME_MAX + 1];
	size_t len;
	int next;

	if (in_procfs(w->cur)) {
		t->proc = 1;
		return -1;
	}
	while (w->rest[w->pos] == '/')
		w->pos++;
	len = strcspn(w->rest + w->pos, "/");
	if (!len) {
		t->exists = !fstat(w->cur, &t->st);
		return -1;
	}
	snprintf(comp, sizeof(comp), "%.*s", (int)(len < NAME_MAX ? len : NAME_MAX), w->rest + w->pos);
	w->pos += len;
	/* ".." never climbs above the child's root. */
	if (!strcmp(comp, ".") || (!strcmp(comp, "..") && same_file(w->cur, w->root)))
		return 0;
	next = openat(w->cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (next < 0) {
		w->pos -= len;
		return -1;
	}
	if (!fstat(next, &t->st) && S_ISLNK(t->st.st_mode) && (w->rest[w->pos + strspn(w->rest + w->pos, "/")] || follow_last) && w->hops++ < 40)
		return walk_follow(w, next);
	close(w->cur);
	w->cur = next;
	return 0;
}

/* What the walk reached, as a canonical path, with the part it could not resolve appended. */
static void walk_end(struct walk *w, struct target *t)
{
	char self[64];
	ssize_t n;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", w->cur);
	n = w->cur >= 0 ? readlink(self, t->canon, sizeof(t->canon) - 1) : -1;
	t->canon[n > 0 ? n : 0] = 0;
	if (!t->exists && !t->proc && w->rest[w->pos])
		snprintf(t->canon + strlen(t->canon), sizeof(t->canon) - strlen(t->canon), "%s%s", t->canon[1] ? "/" : "",
			 w->rest + w->pos + strspn(w->rest + w->pos, "/"));
	if (w->cur >= 0)
		close(w->cur);
	if (w->root >= 0)
		close(w->root);
}

/* Component by component, following symlinks here so /dev/fd, //, /./ and .. all land where the
 * kernel would; stops as soon as the walk is in procfs. */
static void resolve(pid_t child, int dirfd, const char *raw, int follow_last, int in_root, struct target *t)
{
	static struct walk w;

	memset(t, 0, sizeof(*t));
	walk_start(&w, child, dirfd, raw, in_root);
	while (w.cur >= 0 && w.root >= 0 && !walk_step(&w, follow_last, t))
		;
	walk_end(&w, t);
}

static int beneath(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || !path[n]);
}

/* Which guard's rule the open breaks, W_N for none. */
static int judge_open(const struct target *t, int flags)
{
	const char *base = strrchr(t->canon, '/') ? strrchr(t->canon, '/') + 1 : t->canon;
	int write = (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
	char real[PATH_MAX];
	unsigned nr;

	if (t->proc)
		return W_PROC;
	/* By device number, so another name for the node is caught; by name where the kernel has none. */
	if ((t->exists && S_ISCHR(t->st.st_mode) && major(t->st.st_rdev) == 1 &&
	     (minor(t->st.st_rdev) == 1 || minor(t->st.st_rdev) == 2 || minor(t->st.st_rdev) == 4)) ||
	    !strcmp(t->canon, "/dev/mem") || !strcmp(t->canon, "/dev/kmem") || !strcmp(t->canon, "/dev/port"))
		return W_DEVMEM;
	/* Config space and BARs belong to VFIO: through sysfs they bypass it. Reading config is how a
	 * driver looks before it opens the device. */
	if (beneath(t->canon, "/sys/devices") && strstr(t->canon, "/pci")) {
		if (!strcmp(base, "config") && write)
			return W_PCI_CONFIG;
		if (!strncmp(base, "resource", 8) && sscanf(base + 8, "%u", &nr) == 1)
			return W_PCI_RESOURCE;
	}
	/* Landlock checks neither O_PATH nor a file that is not there (ENOENT comes first), unless created. */
	if ((flags & O_PATH) || (!t->exists && !(flags & O_CREAT)))
		return W_N;
	if (!t->exists)
		return W_LANDLOCK;
	for (unsigned i = 0; i < NPATHS; i++) {
		int kind = sandbox_paths[i].kind;

		if (!realpath(sandbox_paths[i].path, real) || !beneath(t->canon, real))
			continue;
		return write && (kind == RD_FILE || kind == RD_DIR) ? W_LANDLOCK : W_N;
	}
	return W_LANDLOCK;
}

static void watch_open(pid_t child, int listener, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	char path[PATH_MAX] = "", mem[32];
	struct open_how how = { 0 };
	struct target t;
	uint64_t addr;
	int fd, dirfd = AT_FDCWD, w;

	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req))
		return;
	child = watched(child, (pid_t)req->pid);
	addr = req->data.nr == SYS_open || req->data.nr == SYS_creat ? req->data.args[0] : req->data.args[1];
	if (req->data.nr == SYS_open)
		how.flags = req->data.args[1];
	else if (req->data.nr == SYS_creat)
		how.flags = O_CREAT | O_WRONLY | O_TRUNC;
	else if (req->data.nr == SYS_openat)
		how.flags = req->data.args[2];
	if (req->data.nr == SYS_openat || req->data.nr == SYS_openat2)
		dirfd = (int)req->data.args[0];
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)child);
	fd = open(mem, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (child_string(fd, addr, path, sizeof(path)))
			path[0] = 0;
		if (req->data.nr == SYS_openat2 && pread(fd, &how, sizeof(how), (off_t)req->data.args[2]) != (ssize_t)sizeof(how))
			memset(&how, 0, sizeof(how));
		close(fd);
	}
	resolve(child, dirfd, path, !(how.flags & O_NOFOLLOW) && !((how.flags & O_CREAT) && (how.flags & O_EXCL)), !!(how.resolve & RESOLVE_IN_ROOT), &t);
	w = judge_open(&t, (int)how.flags);
	resp->id = req->id;
	resp->val = 0;
	if (w < W_N) {
		if (!watch.refused[w]++)
			snprintf(watch.first[w], sizeof(watch.first[w]), "%s", path);
		resp->error = -EACCES;
		resp->flags = 0;
	} else {
		/* Nothing the sandbox denies: let the kernel (and Landlock) decide. */
		resp->error = 0;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	}
	ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

int observe(pid_t child, int req_r, int rep_w)
{
	struct seccomp_notif_sizes sizes = { 0 };
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	int listener = -1, status = 0;

	syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes);
	req = calloc(1, sizes.seccomp_notif > sizeof(*req) ? sizes.seccomp_notif : sizeof(*req));
	resp = calloc(1, sizes.seccomp_notif_resp > sizeof(*resp) ? sizes.seccomp_notif_resp : sizeof(*resp));
	for (;;) {
		struct pollfd p[2] = { { .fd = req_r, .events = POLLIN }, { .fd = listener, .events = POLLIN } };

		if (waitpid(child, &status, WNOHANG) == child)
			break;
		if (poll(p, listener >= 0 ? 2 : 1, 100) <= 0)
			continue;
		if (p[0].revents & POLLIN)
			serve(child, req_r, rep_w, &listener);
		if (listener >= 0 && (p[1].revents & POLLIN)) {
			memset(req, 0, sizes.seccomp_notif);
			memset(resp, 0, sizes.seccomp_notif_resp);
			watch_open(child, listener, req, resp);
		}
	}
	if (listener >= 0)
		close(listener);
	free(req);
	free(resp);
	return status;
}
