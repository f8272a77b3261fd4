#include "agent.h"
#include <stddef.h>

int case_boot(const struct plan *p);
int case_noiommu_dma(const struct plan *p);

/* Assertion names and plans live with each case; the host's case file lists the same names. */
const struct case_def vh_cases[] = {
	{ "boot", case_boot },
	{ "noiommu-dma", case_noiommu_dma },
	{ NULL, NULL },
};
