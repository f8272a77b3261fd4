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
int case_lifecycle_owner_crash(const struct plan *p);
int case_lifecycle_irq_after_freeze(const struct plan *p);
int case_lifecycle_pressure_before_map(const struct plan *p);
int case_iommu_dma(const struct plan *p);
int case_kselftest(const struct plan *p);

/* Case names come from cases/contract.ts; the assertions of each stage and their order from the case files in cases/. */
const struct case_def vh_cases[] = {
	{ VH_CASE_BOOT, case_boot, 0 },
	{ VH_CASE_NOIOMMU_DMA, case_noiommu_dma, 0 },
	{ VH_CASE_LUO_DMA_BUFFER, case_luo_dma_buffer, 0 },
	{ VH_CASE_VFIO_HANDOVER, case_vfio_handover, 0 },
	{ VH_CASE_IOMMUFD_HANDOVER, case_vfio_handover, 0 },
	{ VH_CASE_ONLY_VFIO, case_only_vfio, 0 },
	{ VH_CASE_KEXEC_CHAIN, case_kexec_chain, 0 },
	{ VH_CASE_MEMFD_CHAIN, case_memfd_chain, 0 },
	{ VH_CASE_NVME_HANDOVER, case_nvme_handover, 0 },
	{ VH_CASE_DMA_ACROSS_KEXEC, case_dma_across_kexec, 0 },
	{ VH_CASE_LIFECYCLE_REPRESERVE, case_lifecycle_represerve, 0 },
	{ VH_CASE_LIFECYCLE_SECOND_OPENER, case_lifecycle_second_opener, 0 },
	{ VH_CASE_LIFECYCLE_ABANDONED, case_lifecycle_abandoned, 0 },
	{ VH_CASE_LIFECYCLE_UNBIND_FINISH, case_lifecycle_unbind_finish, 0 },
	{ VH_CASE_LIFECYCLE_KHO_OFF, case_lifecycle_kho_off, 0 },
	{ VH_CASE_LIFECYCLE_OWNER_CRASH, case_lifecycle_owner_crash, 0 },
	{ VH_CASE_LIFECYCLE_IRQ_AFTER_FREEZE, case_lifecycle_irq_after_freeze, 0 },
	{ VH_CASE_LIFECYCLE_PRESSURE_BEFORE_MAP, case_lifecycle_pressure_before_map, 0 },
	{ VH_CASE_IOMMU_DMA, case_iommu_dma, 0 },
	{ VH_CASE_VFIO_HANDOVER_IOMMU, case_vfio_handover, 0 },
	{ VH_CASE_UPSTREAM_UAPI_SELFTEST, case_kselftest, 1 },
	{ NULL, NULL, 0 },
};
