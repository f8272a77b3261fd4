#include "agent.h"
#include "ktap.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CAPS 8

/* What the stage has found so far: module-wide, as the driver child runs one stage and every step() reads it. */
static struct {
	char blocker[128];      /* the first hard failure: the steps after it are not run */
	char missing[512];      /* what the kernel lacks for the whole case: every later step SKIPs */
	struct {
		char cap[32];
		char reason[480];
	} lacked[MAX_CAPS];     /* claims found lacking: the steps that need one SKIP */
	const char *scoped_cap; /* every step() needs this claim too, until scope_cap(NULL) */
} found;

static const char *cap_reason(const char *cap)
{
	for (int i = 0; i < MAX_CAPS; i++)
		if (found.lacked[i].cap[0] && !strcmp(found.lacked[i].cap, cap))
			return found.lacked[i].reason;
	return NULL;
}

void scope_cap(const char *cap)
{
	found.scoped_cap = cap;
}

int step(const char *name)
{
	return step_cap(name, found.scoped_cap);
}

int step_cap(const char *name, const char *cap)
{
	const char *why = cap ? cap_reason(cap) : NULL;

	if (found.missing[0]) {
		ktap_skip(name, "%s", found.missing);
		return 0;
	}
	if (why) {
		ktap_skip(name, "%s: %s", cap, why);
		return 0;
	}
	if (found.blocker[0]) {
		ktap_fail(name, "blocked", 0, "an earlier step to succeed", "not run: %s failed", found.blocker);
		return 0;
	}
	return 1;
}

void lacks_cap(const char *cap, const char *fmt, ...)
{
	va_list ap;

	if (cap_reason(cap))
		return;
	for (int i = 0; i < MAX_CAPS; i++) {
		if (found.lacked[i].cap[0])
			continue;
		snprintf(found.lacked[i].cap, sizeof(found.lacked[i].cap), "%s", cap);
		va_start(ap, fmt);
		vsnprintf(found.lacked[i].reason, sizeof(found.lacked[i].reason), fmt, ap);
		va_end(ap);
		ktap_info("lacks", "%s: %s", cap, found.lacked[i].reason);
		return;
	}
}

int lacking_cap(const char *cap)
{
	return cap_reason(cap) != NULL;
}

void pass(const char *name)
{
	ktap_ok(name);
}

#define FAIL_BODY()                                        \
	char seen[1024];                                   \
	va_list ap;                                        \
	va_start(ap, fmt);                                 \
	vsnprintf(seen, sizeof(seen), fmt, ap);            \
	va_end(ap);                                        \
	ktap_fail(name, phase, err, expected, "%s", seen)

void fail_hard(const char *name, const char *phase, int err, const char *expected, const char *fmt, ...)
{
	FAIL_BODY();
	if (!found.blocker[0])
		snprintf(found.blocker, sizeof(found.blocker), "%s", name);
}

void fail_soft(const char *name, const char *phase, int err, const char *expected, const char *fmt, ...)
{
	FAIL_BODY();
}

void lacks(const char *fmt, ...)
{
	va_list ap;

	if (found.missing[0])
		return;
	va_start(ap, fmt);
	vsnprintf(found.missing, sizeof(found.missing), fmt, ap);
	va_end(ap);
	ktap_info("lacks", "%s", found.missing);
}

int lacking(void)
{
	return found.missing[0] != 0;
}

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t uptime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The DMA pattern generator: one per process, reseeded by rng_seed() once per stage. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

/* xorshift64*: the seed is reported, so a failing pattern can be reproduced. */
void rng_fill(void *buf, uint64_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t x = rng_state, v;
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		rng_state = x;
		v = x * 0x2545f4914f6cdd1dull;
		for (int i = 0; i < 8 && len > 0; i++, len--)
			*p++ = (uint8_t)(v >> (i * 8));
	}
}
