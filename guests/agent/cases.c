#include "agent.h"
#include <stddef.h>

int case_boot(const struct plan *p);
int case_noiommu_dma(const struct plan *p);
int case_handover(const struct plan *p);
int case_iommu_dma(const struct plan *p);
int case_kselftest(const struct plan *p);

/* Case names come from cases/contract.ts; the assertions of each stage and their order from the case files in cases/. */
const struct case_def vh_cases[] = {
	{ VH_CASE_BOOT, case_boot, 0 },
	{ VH_CASE_NOIOMMU_DMA, case_noiommu_dma, 0 },
	{ VH_CASE_LUO_DMA_BUFFER, case_handover, 0 },
	{ VH_CASE_VFIO_HANDOVER, case_handover, 0 },
	{ VH_CASE_IOMMUFD_HANDOVER, case_handover, 0 },
	{ VH_CASE_ONLY_VFIO, case_handover, 0 },
	{ VH_CASE_KEXEC_CHAIN, case_handover, 0 },
	{ VH_CASE_MEMFD_CHAIN, case_handover, 0 },
	{ VH_CASE_NVME_HANDOVER, case_handover, 0 },
	{ VH_CASE_DMA_ACROSS_KEXEC, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_REPRESERVE, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_SECOND_OPENER, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_ABANDONED, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_UNBIND_FINISH, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_KHO_OFF, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_OWNER_CRASH, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_IRQ_AFTER_FREEZE, case_handover, 0 },
	{ VH_CASE_LIFECYCLE_PRESSURE_BEFORE_MAP, case_handover, 0 },
	{ VH_CASE_IOMMU_DMA, case_iommu_dma, 0 },
	{ VH_CASE_VFIO_HANDOVER_IOMMU, case_handover, 0 },
	{ VH_CASE_UPSTREAM_UAPI_SELFTEST, case_kselftest, 1 },
	{ NULL, NULL, 0 },
};
