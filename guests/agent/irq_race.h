/* lifecycle-irq-after-freeze: another thread keeps calling VFIO_DEVICE_SET_IRQS while the kernel freezes for the kexec.
 * Its log is a LUO-preserved memfd, written through a shared mapping up to the moment the CPUs stop, read by the next stage. */
#ifndef VH_IRQ_RACE_H
#define VH_IRQ_RACE_H
#include <stddef.h>
#include <stdint.h>

#define IRQ_RACE_MAGIC 0x49525143u
#define IRQ_RACE_RING 1024 /* the last calls before the kexec: far more than run between the probe blocking and the CPUs stopping */

/* One SET_IRQS call: its number, the LUO probe count when it started, and its result (0 or -errno). */
struct irq_race_call {
	uint32_t k, probe;
	int32_t err;
};

struct irq_race_log {
	uint32_t magic;
	uint32_t calls;           /* SET_IRQS calls made */
	uint32_t probes_started;  /* LUO session ioctls begun: the one that never returns began after the serializer took the sessions */
	uint32_t probes_returned;
	int32_t first_err;        /* the first SET_IRQS, before any freeze */
	int32_t probe_err;        /* the first probe: GET_NAME of the session */
	uint32_t first_refused;   /* the first SET_IRQS refused (0: none), and its errno */
	int32_t refused_err;
	uint32_t late;            /* calls that returned 0 after one was refused */
	int32_t pin_err;          /* sched_setaffinity of a thread to its CPU */
	struct irq_race_call ring[IRQ_RACE_RING];
};

/* Creates the log memfd (its fd in *logfd, its mapping in *log), or -errno. */
int irq_race_log_create(int *logfd, struct irq_race_log **log);
/* Starts the SET_IRQS thread on devfd and the LUO probe thread on session, both on CPU 1, this one staying on CPU 0; waits for
 * each to finish one call. 0 or -errno. */
int irq_race_start(struct irq_race_log *log, int devfd, int session);

/* What the log says of the calls after LUO's serializer took the sessions. */
struct irq_race_verdict {
	int ok;          /* every call from the first refusal on was refused, and one was */
	int ran;         /* the race ran: the probe blocked for good and calls started after it */
	char text[400];
};
void irq_race_judge(const struct irq_race_log *log, struct irq_race_verdict *v);

#endif
