/* vh-agent: PID 1 of every test VM. Reads its plan from the kernel command line, runs the
 * case's driver in a child, reports KTAP on the result channel, then powers off. */
#include "agent.h"
#include "ktap.h"
#include "sandbox.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESULT_CHANNEL "/dev/ttyS1"

static void mount_basics(void)
{
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	mkdir("/tmp", 01777);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	/* As udev makes it: /dev/fd is one more road into /proc that the open watch must see (vh.cheat=proc-alias). */
	symlink("/proc/self/fd", "/dev/fd");
	mount("tmpfs", "/tmp", "tmpfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	/* The sandbox's Landlock rule needs the folder before vfio-pci creates the cdev in it. */
	mkdir("/dev/vfio", 0755);
	mkdir("/dev/vfio/devices", 0755);
}

/* The value of a `key=value` word of the command line, or NULL when the word is not that key's. */
static const char *key_value(const char *tok, const char *key)
{
	size_t n = strlen(key);

	return !strncmp(tok, key, n) && tok[n] == '=' ? tok + n + 1 : NULL;
}

static void parse_plan(struct plan *p)
{
	static char cmdline[4096];
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, cmdline, sizeof(cmdline) - 1) : -1;

	if (fd >= 0)
		close(fd);
	memset(p, 0, sizeof(*p));
	p->pages = 16;
	p->stage = 1;
	p->stages = 1;
	snprintf(p->next, sizeof(p->next), "/kernel");
	if (n <= 0)
		return;
	cmdline[n] = 0;
	snprintf(p->cmdline, sizeof(p->cmdline), "%s", cmdline);
	p->cmdline[strcspn(p->cmdline, "\n")] = 0;
	for (char *tok = strtok(cmdline, " \n"); tok; tok = strtok(NULL, " \n")) {
		const char *v;

		if ((v = key_value(tok, VH_KEY_CASE)))
			snprintf(p->casename, sizeof(p->casename), "%s", v);
		else if ((v = key_value(tok, VH_KEY_DMA)))
			snprintf(p->dma_bdf, sizeof(p->dma_bdf), "%s", v);
		else if ((v = key_value(tok, VH_KEY_PAGES)))
			p->pages = atoi(v);
		else if ((v = key_value(tok, VH_KEY_NATIVE)))
			snprintf(p->native_bdf, sizeof(p->native_bdf), "%s", v);
		else if ((v = key_value(tok, VH_KEY_STAGE)))
			p->stage = atoi(v);
		else if ((v = key_value(tok, VH_KEY_STAGES)))
			p->stages = atoi(v);
		else if ((v = key_value(tok, VH_KEY_SHELL)))
			p->shell = !strcmp(v, "1");
		else if ((v = key_value(tok, VH_KEY_NEXT)))
			snprintf(p->next, sizeof(p->next), "%s", v);
		else if ((v = key_value(tok, VH_KEY_INDUCE)))
			snprintf(p->induce, sizeof(p->induce), "%s", v);
		else if ((v = key_value(tok, VH_KEY_CHEAT)))
			snprintf(p->cheat, sizeof(p->cheat), "%s", v);
		else if ((v = key_value(tok, VH_KEY_IOMMUFD)))
			p->iommufd = !strcmp(v, "1");
		else if ((v = key_value(tok, VH_KEY_KSELFTEST)))
			snprintf(p->kselftest, sizeof(p->kselftest), "%s", v);
		else if ((v = key_value(tok, VH_KEY_MODE))) {
			p->iommu = !strcmp(v, VH_MODE_IOMMU);
			if (!p->iommu && strcmp(v, VH_MODE_NOIOMMU))
				fprintf(stderr, "vh: unknown " VH_KEY_MODE "=%s, taken as " VH_MODE_NOIOMMU "\n", v);
		}
	}
	if (p->pages < 1)
		p->pages = 1;
	if (p->pages > VH_MAX_PAGES)
		p->pages = VH_MAX_PAGES;
}

static __attribute__((noreturn)) void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static const struct case_def *find_case(const char *name)
{
	const struct case_def *c = NULL;

	for (const struct case_def *k = vh_cases; k->name; k++)
		if (!strcmp(k->name, name))
			c = k;
	return c;
}

/* The child: the sandbox first, then the case's driver inside it. */
static __attribute__((noreturn)) void drive(const struct case_def *c, const struct plan *p, const int req[2], const int rep[2])
{
	close(req[0]);
	close(rep[1]);
	if (c->bare)
		ktap_info("sandbox", "none: this case runs a kernel tree's own programs");
	else if (sandbox_enter(req[1], rep[0]) == 0)
		ktap_info("sandbox", "seccomp+landlock");
	else
		ktap_info("sandbox", "unavailable: %s", vh_shared->sandbox_error);
	_exit(c->run(p));
}

/* The driver runs sandboxed in a child; PID 1 observes it and outlives its crash. Returns its wait status. */
static int run_driver(const struct case_def *c, const struct plan *p)
{
	int req[2] = { -1, -1 }, rep[2] = { -1, -1 };
	int status = 0;
	pid_t child;

	if (pipe2(req, O_CLOEXEC) || pipe2(rep, O_CLOEXEC))
		ktap_info(VH_INFO_AGENT, VH_AGENT_ERROR " pipe: %s", strerror(errno));
	child = fork();
	if (child == 0)
		drive(c, p, req, rep);
	close(req[1]);
	close(rep[0]);
	if (child < 0)
		ktap_info(VH_INFO_AGENT, VH_AGENT_ERROR " fork: %s", strerror(errno));
	else
		status = observe(child, req[0], rep[1]);
	if (child > 0 && WIFSIGNALED(status))
		ktap_info(VH_INFO_AGENT, VH_AGENT_CRASH " signal=%d", WTERMSIG(status));
	return status;
}

int main(void)
{
	const struct case_def *c;
	struct plan plan;
	int status;

	if (getpid() == 1)
		mount_basics();
	shared_init();
	parse_plan(&plan);
	ktap_open(getenv("VH_RESULT") ? getenv("VH_RESULT") : RESULT_CHANNEL);
	ktap_info(VH_INFO_AGENT, VH_AGENT_START " stage=%d case=%s uptime_ms=%llu", plan.stage, plan.casename, (unsigned long long)uptime_ms());
	if (plan.shell) {
		run_shell(&plan);
		power_off();
	}
	c = find_case(plan.casename);
	if (!c) {
		ktap_info(VH_INFO_AGENT, VH_AGENT_ERROR " unknown case '%s'", plan.casename);
		power_off();
	}
	status = run_driver(c, &plan);
	ktap_info(VH_INFO_AGENT, VH_AGENT_DONE " stage=%d exit=%d uptime_ms=%llu", plan.stage, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		  (unsigned long long)uptime_ms());
	power_off();
	return 0;
}
