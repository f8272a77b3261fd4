#include "irq_race.h"
#include "agent.h"
#include "luo.h"
#include "nvme.h"
#include "vfio.h"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RACER_STACK (64 * 1024)
#define START_WAIT_MS 30000 /* both threads' first call, under TCG on a loaded host */
/* The probe and the racer share a CPU, the rebooting thread has the other: the moment the probe blocks, that CPU runs the
 * racer, so a racer call follows the serializer whatever the host does to the vCPUs' threads. */
#define RACE_CPU 1
#define REBOOT_CPU 0

struct racer {
	struct irq_race_log *log;
	int fd;
	void (*loop)(struct irq_race_log *log, int fd);
};

static struct racer set_irqs_racer, probe_racer;

static int pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

int irq_race_log_create(int *logfd, struct irq_race_log **log)
{
	size_t len = (sizeof(**log) + VH_PAGE - 1) / VH_PAGE * VH_PAGE;
	int fd = memfd_create("vh-irq-race", MFD_CLOEXEC);
	void *va;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len)) {
		close(fd);
		return -errno;
	}
	va = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (va == MAP_FAILED) {
		close(fd);
		return -errno;
	}
	/* Every page written before PRESERVE_FD, which pins what is there. */
	memset(va, 0, len);
	*log = va;
	(*log)->magic = IRQ_RACE_MAGIC;
	*logfd = fd;
	return 0;
}

/* Each call is written whole before the count says it exists: the kexec can stop this thread anywhere. */
static void set_irqs_loop(struct irq_race_log *log, int devfd)
{
	for (uint32_t k = 1;; k++) {
		struct irq_race_call *c = &log->ring[(k - 1) % IRQ_RACE_RING];
		uint32_t probe = __atomic_load_n(&log->probes_started, __ATOMIC_ACQUIRE);
		int err = vfio_set_irqs_noop(devfd);

		if (k == 1)
			log->first_err = err;
		if (err && !log->first_refused) {
			log->refused_err = err;
			log->first_refused = k;
		} else if (!err && log->first_refused) {
			log->late++;
		}
		c->probe = probe;
		c->err = err;
		__atomic_store_n(&c->k, k, __ATOMIC_RELEASE);
		__atomic_store_n(&log->calls, k, __ATOMIC_RELEASE);
	}
}

/* LUO's serializer takes its rwsem for writing and keeps it until the kexec: the session ioctl it catches never returns. */
static void probe_loop(struct irq_race_log *log, int session)
{
	for (uint32_t k = 1;; k++) {
		char name[64];
		int err;

		__atomic_store_n(&log->probes_started, k, __ATOMIC_RELEASE);
		err = luo_session_name(session, name, sizeof(name));
		if (k == 1)
			log->probe_err = err;
		__atomic_store_n(&log->probes_returned, k, __ATOMIC_RELEASE);
	}
}

/* Both threads run on RACE_CPU, whatever they then loop on. */
static int racer_entry(void *arg)
{
	struct racer *r = arg;
	int err = pin_to(RACE_CPU);

	if (err)
		r->log->pin_err = err;
	r->loop(r->log, r->fd);
	return 0;
}

/* Memory and fds shared; not pthread_create, which mprotects a guard page the sandbox refuses. */
static int start_task(struct racer *r)
{
	void *stack = mmap(NULL, RACER_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (stack == MAP_FAILED)
		return -errno;
	return clone(racer_entry, (char *)stack + RACER_STACK, CLONE_VM | CLONE_FILES | CLONE_FS | SIGCHLD, r) < 0 ? -errno : 0;
}

int irq_race_start(struct irq_race_log *log, int devfd, int session)
{
	uint64_t t0 = now_ms();
	int err;

	err = pin_to(REBOOT_CPU);
	if (err)
		return err;
	set_irqs_racer = (struct racer){ .log = log, .fd = devfd, .loop = set_irqs_loop };
	probe_racer = (struct racer){ .log = log, .fd = session, .loop = probe_loop };
	err = start_task(&set_irqs_racer);
	if (!err)
		err = start_task(&probe_racer);
	while (!err && !(__atomic_load_n(&log->calls, __ATOMIC_ACQUIRE) && __atomic_load_n(&log->probes_returned, __ATOMIC_ACQUIRE))) {
		if (now_ms() - t0 > START_WAIT_MS)
			return -ETIMEDOUT;
		nap_ms(1);
	}
	return err ?: log->pin_err;
}
