/* The plan the host gave this boot, and the verdict helpers every case uses. */
#ifndef VH_AGENT_H
#define VH_AGENT_H
#include <stdint.h>
/* Generated at build time from cases/contract.ts (harness/guest/agent-build.ts): every name the host reads. */
#include "vh_contract.h"

#define VH_PAGE 4096u
#define VH_MAX_PAGES 1024

struct plan {
	char casename[64];
	char dma_bdf[32]; /* the edu device */
	char native_bdf[32]; /* a device with an in-kernel driver */
	int pages;        /* DMA buffer size in pages */
	int stage;        /* from the command line kexec_file_load was given */
	int stages;       /* total stages of the case */
	char cmdline[4096];
	char cheat[32];   /* a negative control: the driver breaks a rule on purpose */
	char induce[32];  /* an induced failure: panic, hang, garbage */
	char next[64];    /* the kernel image kexec_file_load loads: /kernel, or /next-kernel */
	int shell;        /* vfio-handover shell: bind the devices, then a shell on the console */
	int iommufd;      /* the handover preserves the iommufd too (iommufd-handover) */
	int iommu;        /* vh.mode=iommu: the device sits behind a real IOMMU and DMAs to IOVAs */
	char kselftest[512]; /* vh.kselftest=: <program>[,<arg>...][;...] run from /kselftest on the dma device */
};

struct case_def {
	const char *name;
	int (*run)(const struct plan *p);
	int bare;         /* runs outside the sandbox: a kernel tree's own kselftests, as their authors wrote them */
};

extern const struct case_def vh_cases[];
int run_shell(const struct plan *p);

/* Assertion bookkeeping: a hard failure blocks the steps that need it; a missing
 * capability turns every remaining assertion into SKIP with the kernel's reason. */
int step(const char *name);
/* As step(), and SKIP with the reason when the named capability was found lacking. */
int step_cap(const char *name, const char *cap);
void lacks_cap(const char *cap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lacking_cap(const char *cap);
/* Until scope_cap(NULL), every step() also needs this capability. */
void scope_cap(const char *cap);
void pass(const char *name);
void fail_hard(const char *name, const char *phase, int err, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void fail_soft(const char *name, const char *phase, int err, const char *expected, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void lacks(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lacking(void);

uint64_t now_ms(void);
uint64_t uptime_ms(void);
void rng_seed(uint64_t seed);
void rng_fill(void *buf, uint64_t len);

#endif
