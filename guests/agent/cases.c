#include "agent.h"
#include <stddef.h>

int case_boot(const struct plan *p);
int case_noiommu_dma(const struct plan *p);
int case_luo_dma_buffer(const struct plan *p);
int case_vfio_handover(const struct plan *p);
int case_only_vfio(const struct plan *p);
int case_kexec_chain(const struct plan *p);
int case_memfd_chain(const struct plan *p);

/* Assertion names and plans live with each case; the host's case file lists the same names. */
const struct case_def vh_cases[] = {
	{ "boot", case_boot },
	{ "noiommu-dma", case_noiommu_dma },
	{ "luo-dma-buffer", case_luo_dma_buffer },
	{ "vfio-handover", case_vfio_handover },
	{ "iommufd-handover", case_vfio_handover },
	{ "only-vfio", case_only_vfio },
	{ "kexec-chain", case_kexec_chain },
	{ "memfd-chain", case_memfd_chain },
	{ NULL, NULL },
};
