/* The verdict on a race log: pure, so test/unit/irq-race-judge.test.ts runs it on logs made to each rule. */
#include "irq_race.h"
#include <stdio.h>
#include <string.h>

static const char *errname(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	return err ? (n ? n : "?") : "0";
}

/* A refusal shows the freeze by itself; a log with none needs calls that began after LUO's serializer took the sessions,
 * which the probe's last, never-returning call marks. */
void irq_race_judge(const struct irq_race_log *log, struct irq_race_verdict *v)
{
	uint32_t n = log->calls, last = log->probes_started, first = n > IRQ_RACE_RING ? n - IRQ_RACE_RING + 1 : 1;
	uint32_t after = 0, accepted = 0, oldest_after = 0;
	int blocked = log->probes_returned + 1 == last;

	memset(v, 0, sizeof(*v));
	if (log->magic != IRQ_RACE_MAGIC) {
		snprintf(v->text, sizeof(v->text), "the race log crossed without its magic (0x%x)", log->magic);
		return;
	}
	for (uint32_t k = first; blocked && k <= n; k++) {
		const struct irq_race_call *c = &log->ring[(k - 1) % IRQ_RACE_RING];

		if (c->k != k || c->probe != last)
			continue;
		if (!after++)
			oldest_after = k;
		accepted += !c->err;
	}
	v->ran = log->first_refused || after;
	if (log->late) {
		snprintf(v->text, sizeof(v->text), "%u SET_IRQS calls returned 0 after call %u was refused with %s", log->late, log->first_refused,
			 errname(log->refused_err));
	} else if (log->first_refused) {
		v->ok = 1;
		snprintf(v->text, sizeof(v->text), "calls 1-%u returned 0, then calls %u-%u were refused with %s up to the kexec (%u of the last %u began after LUO's serializer took the sessions, %u of those accepted)",
			 log->first_refused - 1, log->first_refused, n, errname(log->refused_err), after, n - first + 1, accepted);
	} else if (after) {
		snprintf(v->text, sizeof(v->text), "%s%u SET_IRQS calls began after LUO's serializer took the sessions, up to the kexec, and every one returned 0",
			 oldest_after == first && first > 1 ? "at least " : "", after);
	} else {
		snprintf(v->text, sizeof(v->text), "none of %u SET_IRQS calls was refused, and none began after LUO's serializer took the sessions (probe %u started, %u returned; the last call began at probe %u)",
			 n, last, log->probes_returned, n ? log->ring[(n - 1) % IRQ_RACE_RING].probe : 0);
	}
}
