#include "ktap.h"
#include "sandbox.h"
#include "vh_contract.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The result channel: one per boot, opened by PID 1 before the fork, so the driver child writes to it too. */
static int out_fd = 1;
/* Numbering lives in the page shared with the observer, so both can emit test points. */
#define counter (vh_shared->ktap_counter)
#define lines (vh_shared->ktap_lines)
#define failures (vh_shared->ktap_failures)

void ktap_open(const char *path)
{
	struct termios tio;
	int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);

	if (fd < 0) {
		dprintf(2, "vh-agent: cannot open result channel %s: %s\n", path, strerror(errno));
		return;
	}
	/* Raw mode: no \n -> \r\n rewriting, so the host reads exactly what we wrote. */
	if (tcgetattr(fd, &tio) == 0) {
		cfmakeraw(&tio);
		cfsetospeed(&tio, B115200);
		tcsetattr(fd, TCSANOW, &tio);
	}
	out_fd = fd;
}

static void emit(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(out_fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void ktap_line(const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	lines++;
	emit(buf, (size_t)n);
	/* Wait until the UART sent it: a panic right after must not swallow this line. */
	tcdrain(out_fd);
}

void ktap_header(int planned)
{
	ktap_line("KTAP version 1");
	if (planned > 0)
		ktap_line("1..%d", planned);
}

void ktap_trailing_plan(void)
{
	ktap_line("1..%d", counter);
}

int ktap_lines(void)
{
	return lines;
}

void ktap_ok(const char *name)
{
	ktap_line("ok %d %s", ++counter, name);
}

void ktap_skip(const char *name, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	ktap_line("ok %d %s # SKIP %s", ++counter, name, reason);
}

/* YAML scalars are written double-quoted with escapes so any text survives. */
static void yaml_quote(char *dst, size_t cap, const char *src)
{
	size_t o = 0;

	if (cap < 3)
		return;
	dst[o++] = '"';
	for (; *src && o + 3 < cap; src++) {
		unsigned char c = (unsigned char)*src;
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20) {
			dst[o++] = ' ';
		} else {
			dst[o++] = (char)c;
		}
	}
	dst[o++] = '"';
	dst[o] = 0;
}

void ktap_fail(const char *name, const char *phase, int err, const char *expected, const char *fmt, ...)
{
	char seen[1024], q[2100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(seen, sizeof(seen), fmt, ap);
	va_end(ap);
	failures++;
	ktap_line("not ok %d %s", ++counter, name);
	ktap_line("  ---");
	yaml_quote(q, sizeof(q), expected);
	ktap_line("  expected: %s", q);
	yaml_quote(q, sizeof(q), seen);
	ktap_line("  seen: %s", q);
	if (err) {
		ktap_line("  errno: %d", err);
		ktap_line("  errname: %s", strerrorname_np(err) ? strerrorname_np(err) : "?");
	}
	ktap_line("  phase: %s", phase);
	ktap_line("  ...");
}

void ktap_bail(const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	failures++;
	ktap_line("Bail out! %s", reason);
}

void ktap_info(const char *key, const char *fmt, ...)
{
	char val[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	ktap_line(VH_INFO_PREFIX "%s=%s", key, val);
}

int ktap_failures(void)
{
	return failures;
}

int ktap_count(void)
{
	return counter;
}
