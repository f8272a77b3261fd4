/* KTAP emitter for the result channel: test points, skips with reasons, YAML diagnostics. */
#ifndef VH_KTAP_H
#define VH_KTAP_H
#include <stdarg.h>

void ktap_open(const char *path);
/* planned 0: the plan comes last, from ktap_trailing_plan(). */
void ktap_header(int planned);
void ktap_trailing_plan(void);
/* Lines written on the channel by this boot, for the host's continuity check. */
int ktap_lines(void);
/* One line, written whole with a single write(2) so a crash never splits it. */
void ktap_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ktap_ok(const char *name);
void ktap_skip(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* not ok with a YAML block: expected, seen, errno, phase. */
void ktap_fail(const char *name, const char *phase, int err, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* Bail out! <reason>: the stream of this boot ends here, whatever follows. */
void ktap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ktap_info(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ktap_failures(void);
int ktap_count(void);

#endif
