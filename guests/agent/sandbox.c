#include "sandbox.h"
#include "vfio.h"
#include <errno.h>
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
	char text[480];
};

/* Child's ends of the two observer pipes; requests and replies are fixed-size (< PIPE_BUF). */
static int obs_req_w = -1, obs_rep_r = -1;

static long ask(int op, uint64_t va, uint64_t len, char *text, size_t cap);

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
	err = (int)ask(OBS_LISTENER, (uint64_t)listener, 0, NULL, 0);
	close(listener);
	if (err)
		snprintf(vh_shared->sandbox_error, sizeof(vh_shared->sandbox_error), "handing the open watch to the observer: %s", strerrorname_np(-err));
	return err;
}

static long ask(int op, uint64_t va, uint64_t len, char *text, size_t cap)
{
	struct obs_req q = { .op = op, .va = va, .len = len };
	struct obs_rep r = { .value = -EPIPE };

	if (obs_req_w < 0 || write(obs_req_w, &q, sizeof(q)) != sizeof(q) || read(obs_rep_r, &r, sizeof(r)) != sizeof(r))
		return -EPIPE;
	if (text)
		snprintf(text, cap, "%s", r.text);
	return r.value;
}

long observe_vmpin_kb(void)
{
	return ask(OBS_VMPIN, 0, 0, NULL, 0);
}

long observe_taint(void)
{
	return ask(OBS_TAINT, 0, 0, NULL, 0);
}

int observe_pressure(void *va, uint64_t len, char *text, size_t cap)
{
	return (int)ask(OBS_PRESSURE, (uintptr_t)va, len, text, cap);
}

void observe_induce_panic(void)
{
	ask(OBS_PANIC, 0, 0, NULL, 0);
}

long observe_refusals(char *text, size_t cap)
{
	return ask(OBS_REFUSALS, 0, 0, text, cap);
}

/* ---- observer (PID 1) ---- */

static void pressure(pid_t child, uint64_t va, uint64_t len, struct obs_rep *r)
{
	size_t n = len / 4096, moved = 0, refused_n = 0;
	void **pages = calloc(n, sizeof(void *));
	int *nodes = calloc(n, sizeof(int)), *status = calloc(n, sizeof(int));
	int cerr = write_file("/proc/sys/vm/compact_memory", "1"), first_err = 0;
	long rc;

	for (size_t i = 0; pages && i < n; i++)
		pages[i] = (void *)(uintptr_t)(va + i * 4096);
	/* Where each page is now, then ask for every page to move to the other node. */
	rc = pages && nodes && status ? syscall(SYS_move_pages, child, n, pages, NULL, status, 0) : -1;
	for (size_t i = 0; rc == 0 && i < n; i++)
		nodes[i] = status[i] == 0 ? 1 : 0;
	if (rc == 0)
		rc = syscall(SYS_move_pages, child, n, pages, nodes, status, 2 /* MPOL_MF_MOVE */);
	for (size_t i = 0; rc >= 0 && i < n; i++) {
		if (status[i] == nodes[i])
			moved++;
		else if (status[i] < 0 && !refused_n++)
			first_err = -status[i];
	}
	r->value = 0;
	/* move_pages returns how many pages it could not migrate; pinned pages must all stay. */
	snprintf(r->text, sizeof(r->text), "compaction %s; move_pages to the other node: %s%zu of %zu pages moved, %ld not migrated, %zu refused (%s)",
		 cerr ? strerrorname_np(-cerr) : "done", rc < 0 ? strerrorname_np(errno) : "", moved, n, rc > 0 ? rc : 0L, refused_n,
		 first_err ? strerrorname_np(first_err) : "-");
	free(pages);
	free(nodes);
	free(status);
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
