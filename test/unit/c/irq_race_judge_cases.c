/* Race logs made to each rule of irq_race_judge(), one verdict line each: name ok ran text. */
#include "irq_race.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct irq_race_log *fresh(uint32_t probes_started, uint32_t probes_returned)
{
	struct irq_race_log *l = calloc(1, sizeof(*l));

	l->magic = IRQ_RACE_MAGIC;
	l->probes_started = probes_started;
	l->probes_returned = probes_returned;
	return l;
}

/* Calls from..to, each begun at probe count `probe`, returning err; the first refusal and late ones kept as the racer keeps them. */
static void calls(struct irq_race_log *l, uint32_t from, uint32_t to, uint32_t probe, int32_t err)
{
	for (uint32_t k = from; k <= to; k++) {
		struct irq_race_call *c = &l->ring[(k - 1) % IRQ_RACE_RING];

		if (err && !l->first_refused) {
			l->first_refused = k;
			l->refused_err = err;
		} else if (!err && l->first_refused) {
			l->late++;
		}
		*c = (struct irq_race_call){ .k = k, .probe = probe, .err = err };
		l->calls = k;
	}
}

static void verdict(const char *name, struct irq_race_log *l)
{
	struct irq_race_verdict v;

	irq_race_judge(l, &v);
	printf("%s %d %d %s\n", name, v.ok, v.ran, v.text);
	free(l);
}

int main(void)
{
	struct irq_race_log *l;

	/* Accepted before and while LUO froze, refused from the device's freeze on: a correct kernel. */
	l = fresh(6, 5);
	calls(l, 1, 2000, 5, 0);
	calls(l, 2001, 2100, 6, 0);
	calls(l, 2101, 2600, 6, -EIO);
	verdict("refused-from-freeze", l);
	/* Refused while the probe still answered (its last call lagged the serializer): the refusal alone shows the freeze. */
	l = fresh(6, 5);
	calls(l, 1, 500, 5, 0);
	calls(l, 501, 600, 5, -EIO);
	verdict("refused-before-probe-blocked", l);
	/* Taken up to the kexec after the probe blocked. */
	l = fresh(6, 5);
	calls(l, 1, 500, 5, 0);
	calls(l, 501, 532, 6, 0);
	verdict("none-refused", l);
	/* More taken after the probe blocked than the ring holds. */
	l = fresh(6, 5);
	calls(l, 1, 100, 5, 0);
	calls(l, 101, 5000, 6, 0);
	verdict("none-refused-ring-full", l);
	/* One refused, then taken again. */
	l = fresh(6, 5);
	calls(l, 1, 500, 6, 0);
	calls(l, 501, 510, 6, -EIO);
	calls(l, 511, 513, 6, 0);
	verdict("accepted-after-refusal", l);
	/* No refusal, and no call after the probe blocked: nothing shows the race ran. */
	l = fresh(6, 5);
	calls(l, 1, 500, 5, 0);
	verdict("no-call-after-probe", l);
	/* No refusal, and the probe never blocked. */
	l = fresh(6, 6);
	calls(l, 1, 500, 6, 0);
	verdict("probe-never-blocked", l);
	/* A log the kexec did not carry. */
	l = fresh(6, 5);
	calls(l, 1, 500, 6, 0);
	l->magic = 0;
	verdict("no-magic", l);
	return 0;
}
