#include "sandbox.h"
#include "vfio.h"
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/mempolicy.h>
#include <linux/seccomp.h>

struct vh_shared *vh_shared;

void shared_init(void)
{
	void *p = mmap(NULL, sizeof(struct vh_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	vh_shared = p == MAP_FAILED ? calloc(1, sizeof(struct vh_shared)) : p;
}

/* The syscalls legacy no-IOMMU userspace uses to keep memory in place or to peek at it. */
static const struct {
	int nr;
	const char *name;
} refused[] = {
	{ SYS_mprotect, "mprotect" },	      { SYS_pkey_mprotect, "pkey_mprotect" },
	{ SYS_mlock, "mlock" },		      { SYS_mlock2, "mlock2" },
	{ SYS_mlockall, "mlockall" },	      { SYS_munlock, "munlock" },
	{ SYS_munlockall, "munlockall" },     { SYS_remap_file_pages, "remap_file_pages" },
	{ SYS_process_vm_readv, "process_vm_readv" }, { SYS_process_vm_writev, "process_vm_writev" },
	{ SYS_move_pages, "move_pages" },     { SYS_migrate_pages, "migrate_pages" },
};
#define NREFUSED (sizeof(refused) / sizeof(refused[0]))

enum { OBS_VMPIN = 1, OBS_TAINT, OBS_PRESSURE, OBS_REFUSALS, OBS_LISTENER, OBS_PANIC };
struct obs_req {
	int op;
	uint64_t va, len;
};
struct obs_rep {
	long value;
	struct vh_pressure pressure;
	char text[1024];
};

/* Child's ends of the two observer pipes; requests and replies are fixed-size (< PIPE_BUF). */
static int obs_req_w = -1, obs_rep_r = -1;

static long ask(int op, uint64_t va, uint64_t len, struct obs_rep *out);

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	vh_shared->trapped[si->si_syscall & 511]++;
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
}

static int install_seccomp(void)
{
	struct sock_filter f[4 + NREFUSED + 6];
	struct sock_fprog prog = { .filter = f };
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	unsigned n = 0;
	int listener;

	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/* Each refused syscall traps to on_sigsys, which counts it and returns EPERM. */
	for (unsigned i = 0; i < NREFUSED; i++)
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)refused[i].nr,
						      (unsigned char)(NREFUSED - i + 3), 0);
	/* Every open goes past the observer, which refuses /proc and counts it. */
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 4, 0);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 3, 0);
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 2, 0);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
	f[n++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	prog.len = (unsigned short)n;
	if (sigaction(SIGSYS, &sa, NULL))
		return -errno;
	listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	return listener < 0 ? -errno : listener;
}

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
	err = err ?: landlock_allow(rs, "/dev/vfio", dir_rw);
	err = err ?: landlock_allow(rs, "/dev/iommu", dev);
	err = err ?: landlock_allow(rs, "/dev/liveupdate", dev);
	err = err ?: landlock_allow(rs, "/dev/kmsg", file_r);
	err = err ?: landlock_allow(rs, "/sys/bus/pci", dir_rw);
	err = err ?: landlock_allow(rs, "/sys/devices", dir_rw);
	err = err ?: landlock_allow(rs, "/sys/module/vfio", dir_r);
	err = err ?: landlock_allow(rs, "/sys/firmware/initrd", file_r);
	err = err ?: landlock_allow(rs, "/kernel", file_r);
	err = err ?: landlock_allow(rs, "/next-kernel", file_r);
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

	obs_req_w = req_w;
	obs_rep_r = rep_r;
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
	struct obs_req q = { .op = op, .va = va, .len = len };
	static struct obs_rep r;

	r.value = -EPIPE;
	if (obs_req_w < 0 || write(obs_req_w, &q, sizeof(q)) != sizeof(q) || read(obs_rep_r, &r, sizeof(r)) != sizeof(r))
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

/* Pushes each page of the child's [va, va+len) to another node: move_pages one page at a time
 * (a failed batch would leave the pages after it untried), MPOL_MF_MOVE_ALL so that sharing
 * cannot excuse a page; nodes without CPUs are fine targets (N_MEMORY is what counts). */
static void pressure(pid_t child, uint64_t va, uint64_t len, struct obs_rep *r)
{
	struct vh_pressure *pr = &r->pressure;
	char mem_s[64], cpu_s[64];
	uint64_t mem = node_list("/sys/devices/system/node/has_memory", mem_s, sizeof(mem_s));
	uint64_t cpu = node_list("/sys/devices/system/node/has_cpu", cpu_s, sizeof(cpu_s));
	size_t n = len / 4096, o = 0, cap = sizeof(pr->text);
	void **pages = calloc(n ? n : 1, sizeof(void *));
	int *before = calloc(n ? n : 1, sizeof(int)), *after = calloc(n ? n : 1, sizeof(int));
	int cerr = write_file("/proc/sys/vm/compact_memory", "1");
	uint32_t on[64] = { 0 }, now[64] = { 0 };
	long rc = -1;

	memset(pr, 0, sizeof(*pr));
	pr->target = -1;
	pr->pages = (uint32_t)n;
	r->value = 0;
#define SAY(...) (o += (size_t)snprintf(pr->text + o, o < cap ? cap - o : 0, __VA_ARGS__))
	SAY("compaction %s; ", cerr ? strerrorname_np(-cerr) : "done");
	if (!mem)
		SAY("no NUMA nodes (no /sys/devices/system/node/has_memory); ");
	else
		SAY("nodes with memory %s, with CPUs %s; ", mem_s, cpu_s);
	if (!pages || !before || !after)
		goto out;
	for (size_t i = 0; i < n; i++)
		pages[i] = (void *)(uintptr_t)(va + i * 4096);
	/* Where each page is now. */
	rc = syscall(SYS_move_pages, child, n, pages, NULL, before, 0);
	if (rc < 0) {
		pr->refused = (uint32_t)n;
		pr->first_err = errno;
		SAY("move_pages could not say where the pages are: %s", strerrorname_np(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int to = before[i] >= 0 ? other_node(mem, before[i]) : -1, st = 0;
		long one;

		if (before[i] >= 0 && before[i] < 64)
			on[before[i]]++;
		if (to < 0) {
			pr->refused++;
			pr->first_err = pr->first_err ?: before[i] < 0 ? -before[i] : ENODEV;
			continue;
		}
		if (pr->target < 0)
			pr->target = to;
		one = syscall(SYS_move_pages, child, 1, &pages[i], &to, &st, MPOL_MF_MOVE_ALL);
		if (one == 1) {
			pr->held++;
		} else if (one < 0 || st < 0) {
			pr->refused++;
			pr->first_err = pr->first_err ?: one < 0 ? errno : -st;
		}
	}
	SAY("pages before:");
	for (int k = 0; k < 64; k++)
		if (on[k])
			SAY(" node%d x%u", k, on[k]);
	if (pr->target < 0) {
		SAY("; no other node with memory to move them to");
		goto out;
	}
	/* move_pages' own status afterwards: which node holds each page now. */
	rc = syscall(SYS_move_pages, child, n, pages, NULL, after, 0);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		pr->moved += after[i] == pr->target;
		if (after[i] >= 0 && after[i] < 64)
			now[after[i]]++;
	}
	SAY("; move_pages(MPOL_MF_MOVE_ALL) one page at a time to node%d%s: %u moved, %u not migrated, %u refused%s%s", pr->target,
	    cpu >> pr->target & 1 ? "" : " (no CPUs)", pr->moved, pr->held, pr->refused, pr->first_err ? " " : "",
	    pr->first_err ? strerrorname_np(pr->first_err) : "");
	if (rc)
		SAY("; where they are afterwards: %s", strerrorname_np(errno));
	else
		SAY("; pages after:");
	for (int k = 0; !rc && k < 64; k++)
		if (now[k])
			SAY(" node%d x%u", k, now[k]);
	/* A page the kernel reported held yet found on the target afterwards counts once, as moved. */
	if (pr->held > n - pr->moved)
		pr->held = (uint32_t)(n - pr->moved);
out:
#undef SAY
	free(pages);
	free(before);
	free(after);
}

static void refusals(struct obs_rep *r)
{
	size_t o = 0;
	long total = 0;

	r->text[0] = 0;
	for (unsigned i = 0; i < NREFUSED; i++) {
		uint32_t c = vh_shared->trapped[refused[i].nr & 511];
		if (!c)
			continue;
		total += c;
		o += (size_t)snprintf(r->text + o, o < sizeof(r->text) ? sizeof(r->text) - o : 0, "%sseccomp refused %s x%u",
				      o ? "; " : "", refused[i].name, c);
	}
	if (vh_shared->proc_refused) {
		total += vh_shared->proc_refused;
		snprintf(r->text + o, o < sizeof(r->text) ? sizeof(r->text) - o : 0, "%sopen watch refused /proc x%u (first %s)", o ? "; " : "",
			 vh_shared->proc_refused, vh_shared->first_proc);
	}
	if (!total)
		snprintf(r->text, sizeof(r->text), "none");
	r->value = total;
}

static void serve(pid_t child, int req_r, int rep_w, int *listener)
{
	struct obs_req q;
	struct obs_rep r = { 0 };

	if (read(req_r, &q, sizeof(q)) != sizeof(q))
		return;
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

static void watch_open(pid_t child, int listener, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	char path[256] = "", mem[32];
	uint64_t addr;
	int fd;

	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req))
		return;
	addr = req->data.nr == SYS_open ? req->data.args[0] : req->data.args[1];
	snprintf(mem, sizeof(mem), "/proc/%d/mem", (int)child);
	fd = open(mem, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, path, sizeof(path) - 1, (off_t)addr) < 0)
			path[0] = 0;
		close(fd);
	}
	path[sizeof(path) - 1] = 0;
	resp->id = req->id;
	resp->val = 0;
	if (!strncmp(path, "/proc", 5) && (path[5] == '/' || !path[5])) {
		if (!vh_shared->proc_refused++)
			snprintf(vh_shared->first_proc, sizeof(vh_shared->first_proc), "%s", path);
		resp->error = -EACCES;
		resp->flags = 0;
	} else {
		/* Not /proc: let the kernel (and Landlock) decide. */
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
