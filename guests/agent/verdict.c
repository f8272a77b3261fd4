#include "agent.h"
#include "ktap.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char blocker[128];
static char missing[512];

#define MAX_CAPS 8
static struct {
	char cap[32];
	char reason[480];
} lacked[MAX_CAPS];

static const char *cap_reason(const char *cap)
{
	for (int i = 0; i < MAX_CAPS; i++)
		if (lacked[i].cap[0] && !strcmp(lacked[i].cap, cap))
			return lacked[i].reason;
	return NULL;
}

static const char *scoped_cap;

void scope_cap(const char *cap)
{
	scoped_cap = cap;
}

int step(const char *name)
{
	return step_cap(name, scoped_cap);
}

int step_cap(const char *name, const char *cap)
{
	const char *why = cap ? cap_reason(cap) : NULL;

	if (missing[0]) {
		ktap_skip(name, "%s", missing);
		return 0;
	}
	if (why) {
		ktap_skip(name, "%s: %s", cap, why);
		return 0;
	}
	if (blocker[0]) {
		ktap_fail(name, "blocked", 0, "an earlier step to succeed", "not run: %s failed", blocker);
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
		if (lacked[i].cap[0])
			continue;
		snprintf(lacked[i].cap, sizeof(lacked[i].cap), "%s", cap);
		va_start(ap, fmt);
		vsnprintf(lacked[i].reason, sizeof(lacked[i].reason), fmt, ap);
		va_end(ap);
		ktap_info("lacks", "%s: %s", cap, lacked[i].reason);
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
	if (!blocker[0])
		snprintf(blocker, sizeof(blocker), "%s", name);
}

void fail_soft(const char *name, const char *phase, int err, const char *expected, const char *fmt, ...)
{
	FAIL_BODY();
}

void lacks(const char *fmt, ...)
{
	va_list ap;

	if (missing[0])
		return;
	va_start(ap, fmt);
	vsnprintf(missing, sizeof(missing), fmt, ap);
	va_end(ap);
	ktap_info("lacks", "%s", missing);
}

int lacking(void)
{
	return missing[0] != 0;
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
