/* The userspace driver's sandbox (seccomp + Landlock) and the observer that watches it.
 * The driver runs in a child; PID 1 observes: it answers the child's questions about the
 * kernel's accounting (VmPin, taint) from /proc, pushes on its memory, and counts refusals. */
#ifndef VH_SANDBOX_H
#define VH_SANDBOX_H
#include <stdint.h>
#include <sys/types.h>

/* Counters shared by the observer and the sandboxed child (MAP_SHARED, set up before fork). */
struct vh_shared {
	int ktap_counter, ktap_failures, ktap_lines;
	uint32_t trapped[64];    /* seccomp refusals by rule (the filter's SECCOMP_RET_DATA) */
	char sandbox_error[192]; /* why the sandbox could not be set up, if it could not */
};

/* What the observer's push on a buffer did: compaction, then move_pages of each page, one at
 * a time, to a node with memory other than its own; where each page is afterwards. */
struct vh_pressure {
	int32_t target;    /* the node pages were pushed to; -1: no other node has memory */
	uint32_t pages;
	uint32_t moved;    /* on the target node afterwards, by move_pages' own status */
	uint32_t held;     /* the kernel tried and could not migrate them (move_pages returned 1) */
	uint32_t refused;  /* move_pages refused the page or the call: nothing was tried */
	int32_t first_err; /* errno of the first refusal */
	char text[512];
};

extern struct vh_shared *vh_shared;
void shared_init(void);

/* Child side. */
int sandbox_enter(int req_w, int rep_r);
long observe_vmpin_kb(void);
long observe_taint(void);
/* Compaction and a migration attempt on [va, va+len) by the observer; 0 or -errno. */
int observe_pressure(void *va, uint64_t len, struct vh_pressure *out);
/* Every page was pushed to another node: the kernel moved it or tried and could not. */
int pressure_applied(const struct vh_pressure *p);
/* Total refusals so far; text names each guard and what it refused. */
long observe_refusals(char *text, size_t cap);

/* Induced failure: asks the observer to crash the kernel through sysrq. */
void observe_induce_panic(void);

/* Parent side: serves the child until it exits; returns its wait status. */
int observe(pid_t child, int req_r, int rep_w);

#endif
