/* The kernel's own record of who touched a device in this boot: /dev/kmsg, read whole. */
#ifndef VH_KMSG_H
#define VH_KMSG_H
#include <stddef.h>

struct device_record {
	int owner_probes;  /* "probe of <bdf> with driver <owner> returned" (initcall_debug) */
	int others;        /* probes by, or messages from, any other driver */
	int lost;          /* records overwritten before we read them: the log was too small */
	char first_other[256];
};

/* Scans this boot's log for every probe of bdf and every message a driver printed about it; 0 or -errno. */
int kmsg_device_record(const char *bdf, const char *owner, struct device_record *r);

/* The first record of this boot whose message holds needle, into out: 1 found, 0 not, or -errno. */
int kmsg_find(const char *needle, char *out, size_t cap);

#endif
