#include "agent.h"
#include <stddef.h>

int case_boot(const struct plan *p);
int case_noiommu_dma(const struct plan *p);
int case_luo_dma_buffer(const struct plan *p);
int case_vfio_handover(const struct plan *p);
int case_only_vfio(const struct plan *p);
int case_kexec_chain(const struct plan *p);
int case_memfd_chain(const struct plan *p);
int case_nvme_handover(const struct plan *p);
int case_dma_across_kexec(const struct plan *p);
int case_lifecycle_represerve(const struct plan *p);
int case_lifecycle_second_opener(const struct plan *p);
int case_lifecycle_abandoned(const struct plan *p);
int case_lifecycle_unbind_finish(const struct plan *p);
int case_lifecycle_kho_off(const struct plan *p);

/* Case names come from cases/contract.ts; the assertions of each stage and their order from the case files in cases/. */
const struct case_def vh_cases[] = {
	{ VH_CASE_BOOT, case_boot },
	{ VH_CASE_NOIOMMU_DMA, case_noiommu_dma },
	{ VH_CASE_LUO_DMA_BUFFER, case_luo_dma_buffer },
	{ VH_CASE_VFIO_HANDOVER, case_vfio_handover },
	{ VH_CASE_IOMMUFD_HANDOVER, case_vfio_handover },
	{ VH_CASE_ONLY_VFIO, case_only_vfio },
	{ VH_CASE_KEXEC_CHAIN, case_kexec_chain },
	{ VH_CASE_MEMFD_CHAIN, case_memfd_chain },
	{ VH_CASE_NVME_HANDOVER, case_nvme_handover },
	{ VH_CASE_DMA_ACROSS_KEXEC, case_dma_across_kexec },
	{ VH_CASE_LIFECYCLE_REPRESERVE, case_lifecycle_represerve },
	{ VH_CASE_LIFECYCLE_SECOND_OPENER, case_lifecycle_second_opener },
	{ VH_CASE_LIFECYCLE_ABANDONED, case_lifecycle_abandoned },
	{ VH_CASE_LIFECYCLE_UNBIND_FINISH, case_lifecycle_unbind_finish },
	{ VH_CASE_LIFECYCLE_KHO_OFF, case_lifecycle_kho_off },
	{ NULL, NULL },
};
