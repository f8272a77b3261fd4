/* initcall_debug makes the driver core log every probe attempt with the driver's name ("probe of X with
 * driver Y returned Z"), whatever the driver prints itself; dev_printk prefixes a bound driver's name.
 * Together they name any driver that held the device, not only those whose names we could guess. */
#include "kmsg.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void note_other(struct device_record *r, const char *msg)
{
	if (!r->others++)
		snprintf(r->first_other, sizeof(r->first_other), "%.*s", (int)strcspn(msg, "\n"), msg);
}

/* One record's message: a probe of the device, or a message with a driver's prefix "<driver> <bdf>: ". */
static void classify(const char *msg, const char *bdf, const char *owner, struct device_record *r)
{
	char probe[96], drv[64];
	size_t blen = strlen(bdf);
	const char *at;

	snprintf(probe, sizeof(probe), "probe of %s with driver ", bdf);
	if (!strncmp(msg, probe, strlen(probe))) {
		snprintf(drv, sizeof(drv), "%.*s", (int)strcspn(msg + strlen(probe), " "), msg + strlen(probe));
		if (strcmp(drv, owner))
			note_other(r, msg);
		else
			r->owner_probes++;
		return;
	}
	at = strchr(msg, ' ');
	if (!at || strncmp(at + 1, bdf, blen) || at[1 + blen] != ':')
		return;
	snprintf(drv, sizeof(drv), "%.*s", (int)(at - msg), msg);
	if (strcmp(drv, "pci") && strcmp(drv, owner))
		note_other(r, msg);
}

int kmsg_device_record(const char *bdf, const char *owner, struct device_record *r)
{
	char rec[2048];
	ssize_t n;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return -errno;
	/* EPIPE: records overwritten before we read them; carry on with the rest. */
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		const char *msg;

		if (n <= 0) {
			r->lost = 1;
			continue;
		}
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (msg)
			classify(msg + 1, bdf, owner, r);
	}
	n = n < 0 && errno != EAGAIN ? -errno : 0;
	close(fd);
	return (int)n;
}

int kmsg_find(const char *needle, char *out, size_t cap)
{
	char rec[2048];
	ssize_t n;
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC), found = 0;

	if (fd < 0)
		return -errno;
	while (!found && ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE))) {
		const char *msg;

		if (n <= 0)
			continue;
		rec[n] = 0;
		msg = strchr(rec, ';');
		if (msg && strstr(msg + 1, needle)) {
			snprintf(out, cap, "%.*s", (int)strcspn(msg + 1, "\n"), msg + 1);
			found = 1;
		}
	}
	close(fd);
	return found;
}
