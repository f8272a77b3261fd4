/* The userspace driver under test: edu through the noiommu VFIO cdev and iommufd. */
#ifndef VH_DRIVER_H
#define VH_DRIVER_H
#include "agent.h"
#include <stdint.h>

struct vdev {
	const char *bdf;
	char cdev[64];
	int devfd, iommufd;
	uint32_t devid, ioas, hwpt;
	volatile uint8_t *bar;
	uint64_t bar_size;
};

struct dmabuf {
	int memfd;
	uint8_t *va;
	uint64_t len, iova;
	uint32_t runs; /* physically contiguous runs GET_PA reported */
	int by_iova;   /* the device sits behind an IOMMU: it is given IOVAs, not pa[] */
	uint64_t pa[VH_MAX_PAGES];
};

/* Gates on what the running kernel offers; calls lacks() with its reason. */
void require_noiommu_kernel(void);
void require_iommu_kernel(const char *bdf);
/* The gate of the plan's mode (vh.mode=): iommu, or noiommu. */
void require_dma_mode(int iommu, const char *bdf);

/* Each of these is one assertion of the same name. */
void assert_bound_to_vfio_pci(struct vdev *d);
void assert_noiommu_cdev(struct vdev *d);
void assert_iommu_cdev(struct vdev *d);
void assert_iommu_hw_info(struct vdev *d);
/* ioas_map: a new memfd buffer mapped at iova (by_iova: the device is given IOVAs); *pin_before is VmPin before it. */
void assert_ioas_map_buffer(struct vdev *d, struct dmabuf *b, int pages, uint64_t iova, int by_iova, long *pin_before);
void assert_vmpin_grows(const struct dmabuf *b, long before, long *mapped);
/* map_pa: a negative control (vh.cheat=map-pa), the driver maps page 0 at the target IOVA so the transfer lands. */
void assert_dma_outside_ioas_blocked(struct vdev *d, struct dmabuf *b, int map_pa);
void assert_taint_user(void);
/* pressure_moves_unpinned: the observer's push moves every page of a new unpinned memfd of this many pages. */
void assert_pressure_moves_unpinned(int pages);
void assert_bind_iommufd(struct vdev *d);
void assert_ioas_alloc(struct vdev *d);
void assert_attach_ioas(struct vdev *d);
void assert_edu_bar0(struct vdev *d);
void assert_get_pa_every_page(struct vdev *d, struct dmabuf *b);
/* Without the assertion: fills b->pa from GET_PA; 0 or -errno, *bad_iova on failure. */
int get_pa_all(struct vdev *d, struct dmabuf *b, uint64_t *bad_iova);
/* wrong_page: a negative control (vh.cheat=wrong-dma), each page comes back into the next one. */
void assert_dma_roundtrip(struct vdev *d, struct dmabuf *b, const char *name, int wrong_page);
/* The round trip alone, its failures reported under name: 0, or -1 once one was reported. */
int dma_roundtrip_pages(struct vdev *d, struct dmabuf *b, const char *name, int wrong_page);

/* IOAS_UNMAP of b, and VmPin back at before (the observer's reading before the map); mapped, if given, is reported too. */
void assert_unmap_restores(struct vdev *d, const struct dmabuf *b, long before, const long *mapped);

/* Asks the observer for refusals by the sandbox; one assertion. */
void assert_sandbox_clean(void);
/* Negative controls on a mapped buffer (vh.cheat=): each breaks one sandbox rule, and says what came back. */
void driver_cheat(const char *cheat, struct dmabuf *b, const char *bdf);
/* vh.seed= on the command line replays a DMA pattern; otherwise getrandom(2) picks it. */
void dma_seed_from(const char *cmdline);

int dmabuf_create(struct dmabuf *b, int pages, uint64_t iova);
/* Maps an existing memfd (one that crossed a kexec) as the DMA buffer. */
int dmabuf_adopt(struct dmabuf *b, int memfd, int pages, uint64_t iova);
uint64_t dmabuf_digest(const struct dmabuf *b);
/* The same, leaving out the pages set in skip_pages (bit i: page i): pages a device may still be writing. */
uint64_t dmabuf_digest_except(const struct dmabuf *b, uint64_t skip_pages);

#endif
