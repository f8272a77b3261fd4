/* The host's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW: under TCG the guest's TSC is the host's. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

static uint64_t ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int main(void)
{
	uint64_t best = 0;

	/* The highest of five 20 ms windows: a window the scheduler cut short of TSC ticks reads low, never high. */
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = ns(), c0 = __rdtsc(), t1, c1;

		do
			t1 = ns();
		while (t1 - t0 < 20000000ull);
		c1 = __rdtsc();
		if ((c1 - c0) * 1000000ull / (t1 - t0) > best)
			best = (c1 - c0) * 1000000ull / (t1 - t0);
	}
	printf("%llu\n", (unsigned long long)best);
	return 0;
}
