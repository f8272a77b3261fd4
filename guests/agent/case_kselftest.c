/* upstream-uapi-selftest: a kernel tree's own kselftests (vh.kselftest=), run on the case's device bound to vfio-pci,
 * each one's KTAP nested, indented, under its own test point; the host judges the nested points one by one. */
#include "driver.h"
#include "ktap.h"
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 16
/* A kselftest silent this long is hung: killed, and the case is an error (the host's own limit is longer). */
#define SILENCE_MS 60000

/* What one kselftest did: its exit, its first SKIP reason and first not-ok line, as its output said. */
struct kst_run {
	int status;
	int hung;
	char skip[256];
	char first_fail[256];
};

/* One output line of the kselftest, nested under our test point; anything not KTAP (its stderr) becomes a comment. */
static void forward_line(struct kst_run *r, const char *line)
{
	const char *skip = strstr(line, "# SKIP");
	int ktap = !strncmp(line, "ok ", 3) || !strncmp(line, "not ok ", 7) || line[0] == '#' || !strncmp(line, "1..", 3) ||
		   !strncmp(line, "TAP version", 11) || !strncmp(line, "KTAP version", 12) || !strncmp(line, "    ", 4);

	if (skip && !r->skip[0])
		snprintf(r->skip, sizeof(r->skip), "%s", skip[6] == ' ' ? skip + 7 : skip + 6);
	if (!strncmp(line, "not ok ", 7) && !r->first_fail[0])
		snprintf(r->first_fail, sizeof(r->first_fail), "%s", line);
	ktap_line("    %s%s", ktap ? "" : line[0] ? "# " : "#", line);
}

/* Reads the child's merged stdout+stderr line by line until it closes, or kills it after SILENCE_MS of nothing. */
static void forward_output(struct kst_run *r, int fd, pid_t child)
{
	char buf[4096], line[1024];
	size_t len = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		ssize_t n;

		if (poll(&pfd, 1, SILENCE_MS) == 0) {
			r->hung = 1;
			kill(child, SIGKILL);
			break;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || len == sizeof(line) - 1) {
				line[len] = 0;
				forward_line(r, line);
				len = 0;
				if (buf[i] == '\n')
					continue;
			}
			line[len++] = buf[i];
		}
	}
	if (len) {
		line[len] = 0;
		forward_line(r, line);
	}
}

/* Splits "<program>,<arg>,..." in place into argv: /kselftest/<program>, the args, then the device's BDF. */
static int kselftest_argv(char *spec, const char *bdf, char *path, size_t cap, char *argv[MAX_ARGS + 3])
{
	int argc = 0;
	char *save = NULL;
	char *prog = strtok_r(spec, ",", &save);

	if (!prog)
		return -1;
	snprintf(path, cap, "%s/%s", VH_KSELFTEST_DIR, prog);
	argv[argc++] = path;
	for (char *a = strtok_r(NULL, ",", &save); a && argc <= MAX_ARGS; a = strtok_r(NULL, ",", &save))
		argv[argc++] = a;
	argv[argc++] = (char *)bdf;
	argv[argc] = NULL;
	return 0;
}

/* Runs one kselftest with its output on a pipe, the BDF as its last argument and in VFIO_SELFTESTS_BDF. */
static int kselftest_spawn(char *const argv[], const char *bdf, struct kst_run *r)
{
	int out[2];
	pid_t child;

	if (pipe(out))
		return -errno;
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(out[0]);
		close(out[1]);
		setenv("VFIO_SELFTESTS_BDF", bdf, 1);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(out[1]);
	forward_output(r, out[0], child);
	close(out[0]);
	while (waitpid(child, &r->status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* Our verdict on it: exit 0 ok, the SKIP exit status a SKIP with the test's own reason, anything else not ok;
 * a kill or a hang is the agent's error (never ok, never a SKIP). */
static void kselftest_verdict(const char *name, const struct kst_run *r)
{
	if (r->hung || WIFSIGNALED(r->status)) {
		ktap_info(VH_INFO_AGENT, VH_AGENT_ERROR " %s %s", name, r->hung ? "went silent for 60 s and was killed" : strsignal(WTERMSIG(r->status)));
		fail_soft(name, "kselftest", 0, "the kselftest exits", "%s", r->hung ? "hung" : strsignal(WTERMSIG(r->status)));
	} else if (WEXITSTATUS(r->status) == atoi(VH_KSELFTEST_SKIP_EXIT)) {
		ktap_skip(name, "%s", r->skip[0] ? r->skip : "exit status " VH_KSELFTEST_SKIP_EXIT " without a reason");
	} else if (WEXITSTATUS(r->status)) {
		fail_soft(name, "kselftest", 0, "exit status 0", "exit status %d%s%s", WEXITSTATUS(r->status), r->first_fail[0] ? ": " : "", r->first_fail);
	} else {
		pass(name);
	}
}

static void run_kselftest(char *spec, const char *bdf)
{
	char path[256], name[192], *argv[MAX_ARGS + 3];
	struct kst_run r = { 0 };
	int err;

	if (kselftest_argv(spec, bdf, path, sizeof(path), argv))
		return;
	snprintf(name, sizeof(name), "%s%s", VH_KSELFTEST_POINT, argv[0] + strlen(VH_KSELFTEST_DIR) + 1);
	if (!step(name))
		return;
	ktap_line("# Subtest: %s", name);
	err = kselftest_spawn(argv, bdf, &r);
	if (err)
		fail_soft(name, "kselftest", -err, "the kselftest runs", "pipe or fork failed");
	else
		kselftest_verdict(name, &r);
}

int case_kselftest(const struct plan *p)
{
	struct vdev d = { .bdf = p->dma_bdf, .devfd = -1, .iommufd = -1 };
	char specs[sizeof(p->kselftest)], *save = NULL;

	ktap_header(0);
	require_dma_mode(p->iommu, p->dma_bdf);
	assert_bound_to_vfio_pci(&d);
	snprintf(specs, sizeof(specs), "%s", p->kselftest);
	for (char *s = strtok_r(specs, ";", &save); s; s = strtok_r(NULL, ";", &save))
		run_kselftest(s, p->dma_bdf);
	ktap_trailing_plan();
	return ktap_failures() ? 1 : 0;
}
