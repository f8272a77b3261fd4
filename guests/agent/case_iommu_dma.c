/* iommu-dma: the same userspace driver behind a real IOMMU (QEMU's intel-iommu): the device is given IOVAs
 * of an IOAS, DMA through the IOMMU domain lands in the mapped pages, and nowhere else. */
#include "driver.h"
#include "ktap.h"
#include "sandbox.h"
#include "vfio.h"
#include <string.h>

#define IOVA 0x100000ull

/* The case's state between its steps, made in case_iommu_dma (kselftest's FIXTURE). */
struct iommu_dma {
	const struct plan *p;
	struct vdev d;
	struct dmabuf buf; /* mapped with IOAS_MAP at IOVA, pinned by the kernel */
	long pin_before;   /* VmPin before IOAS_MAP */
	long pin_mapped;   /* and after it */
};

int case_iommu_dma(const struct plan *p)
{
	struct iommu_dma t = { .p = p, .d = { .bdf = p->dma_bdf, .devfd = -1, .iommufd = -1 } };

	ktap_header(0);
	dma_seed_from(p->cmdline);
	require_iommu_kernel(p->dma_bdf);
	assert_bound_to_vfio_pci(&t.d);
	assert_iommu_cdev(&t.d);
	assert_bind_iommufd(&t.d);
	assert_ioas_alloc(&t.d);
	assert_attach_ioas(&t.d);
	assert_iommu_hw_info(&t.d);
	assert_edu_bar0(&t.d);
	assert_ioas_map_buffer(&t.d, &t.buf, p->pages, IOVA, 1, &t.pin_before);
	assert_vmpin_grows(&t.buf, t.pin_before, &t.pin_mapped);
	assert_dma_roundtrip(&t.d, &t.buf, VH_A_DMA_ROUNDTRIP_EVERY_PAGE, !strcmp(p->cheat, VH_CHEAT_WRONG_DMA));
	assert_dma_outside_ioas_blocked(&t.d, &t.buf, !strcmp(p->cheat, VH_CHEAT_MAP_PA));
	assert_unmap_restores(&t.d, &t.buf, t.pin_before, &t.pin_mapped);
	assert_sandbox_clean();
	ktap_trailing_plan();
	return ktap_failures() ? 1 : 0;
}
