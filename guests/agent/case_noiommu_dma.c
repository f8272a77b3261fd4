/* noiommu-dma: pin memory through an IOAS, learn its physical addresses from the kernel,
 * and prove them with real DMA. */
#include "driver.h"
#include "ktap.h"
#include "vfio.h"
#include "sandbox.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <errno.h>
#include <unistd.h>

#define ASSERTIONS 19
#define IOVA 0x100000ull

/* The case's state between its steps, made in case_noiommu_dma (kselftest's FIXTURE). */
struct noiommu_dma {
	const struct plan *p;
	struct vdev d;
	struct dmabuf buf; /* mapped with IOAS_MAP, so pinned by the kernel */
	long pin_before;   /* VmPin before IOAS_MAP */
	long pin_mapped;   /* and after it */
};

/* Induced failures, for the harness's own tests (vh.induce=). */
static void induce(const struct plan *p)
{
	if (!strcmp(p->induce, VH_INDUCE_PANIC))
		observe_induce_panic();
	if (!strcmp(p->induce, VH_INDUCE_HANG))
		for (;;)
			pause();
	if (!strcmp(p->induce, VH_INDUCE_GARBAGE)) {
		ktap_line("ok ok 4 %s", VH_A_BIND_IOMMUFD);
		ktap_line("not ok -1");
		ktap_line("ok 2 %s", VH_A_NOIOMMU_CDEV);
	}
}

/* Negative control: physical addresses the old way, from /proc/self/pagemap. */
static void cheat_pagemap(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	ktap_info("cheat", "open /proc/self/pagemap -> %d", fd < 0 ? -errno : 0);
}

static void assert_pa_stable_under_pressure(struct noiommu_dma *t)
{
	const char *name = VH_A_PA_STABLE_UNDER_PRESSURE;
	struct dmabuf again = t->buf;
	struct vh_pressure pr;
	uint64_t bad = 0;
	uint32_t moved = 0;
	int err;

	if (!step(name))
		return;
	err = observe_pressure(t->buf.va, t->buf.len, &pr);
	ktap_info("pressure", "%s", pr.text);
	if (!err)
		err = get_pa_all(&t->d, &again, &bad);
	for (uint64_t i = 0; !err && i < t->buf.len / VH_PAGE; i++)
		moved += again.pa[i] != t->buf.pa[i];
	if (err || moved || pr.moved)
		fail_hard(name, "pressure", err == -EBADMSG ? 0 : -err, "the same PA for every page after compaction and move_pages",
			  "GET_PA changed for %u pages, move_pages moved %u (%s)", moved, pr.moved, pr.text);
	else if (!pressure_applied(&pr))
		fail_soft(name, "pressure", pr.first_err, "move_pages tried every pinned page on another node", "no pressure applied to %u of %u pages (%s)",
			  pr.pages - pr.held, pr.pages, pr.text);
	else
		pass(name);
}

static void assert_get_pa_unmapped_enoent(struct noiommu_dma *t)
{
	uint64_t len = VH_PAGE, pa;
	int err;

	if (!step(VH_A_GET_PA_UNMAPPED_ENOENT))
		return;
	err = noiommu_get_pa(t->d.iommufd, t->d.ioas, IOVA + t->buf.len + 0x100000, &len, &pa);
	if (err != -ENOENT)
		fail_soft(VH_A_GET_PA_UNMAPPED_ENOENT, "get_pa", -err, "ENOENT", "GET_PA on an unmapped IOVA returned %d", err);
	else
		pass(VH_A_GET_PA_UNMAPPED_ENOENT);
}

static void assert_get_pa_zero_length_einval(struct noiommu_dma *t)
{
	uint64_t len = 0, pa;
	int err;

	if (!step(VH_A_GET_PA_ZERO_LENGTH_EINVAL))
		return;
	err = noiommu_get_pa(t->d.iommufd, t->d.ioas, IOVA, &len, &pa);
	if (err != -EINVAL)
		fail_soft(VH_A_GET_PA_ZERO_LENGTH_EINVAL, "get_pa", -err, "EINVAL", "GET_PA with length 0 returned %d", err);
	else
		pass(VH_A_GET_PA_ZERO_LENGTH_EINVAL);
}

static void assert_get_hw_info_refused(struct noiommu_dma *t)
{
	int err;

	if (!step(VH_A_GET_HW_INFO_REFUSED))
		return;
	err = iommu_get_hw_info(t->d.iommufd, t->d.devid, NULL);
	if (err != -EOPNOTSUPP)
		fail_soft(VH_A_GET_HW_INFO_REFUSED, "hw_info", -err, "EOPNOTSUPP", "IOMMU_GET_HW_INFO returned %d", err);
	else
		pass(VH_A_GET_HW_INFO_REFUSED);
}

int case_noiommu_dma(const struct plan *p)
{
	struct noiommu_dma t = { .p = p, .d = { .bdf = p->dma_bdf, .devfd = -1, .iommufd = -1 } };

	ktap_header(ASSERTIONS);
	dma_seed_from(p->cmdline);
	require_noiommu_kernel();
	assert_bound_to_vfio_pci(&t.d);
	assert_noiommu_cdev(&t.d);
	assert_taint_user();
	induce(p);
	assert_bind_iommufd(&t.d);
	assert_ioas_alloc(&t.d);
	assert_attach_ioas(&t.d);
	assert_edu_bar0(&t.d);
	assert_ioas_map_buffer(&t.d, &t.buf, p->pages, IOVA, 0, &t.pin_before);
	/* Negative controls: what legacy no-IOMMU drivers do to keep memory in place. */
	if (t.buf.va)
		driver_cheat(p->cheat, &t.buf, t.d.bdf);
	assert_vmpin_grows(&t.buf, t.pin_before, &t.pin_mapped);
	assert_get_pa_every_page(&t.d, &t.buf);
	if (!strcmp(p->cheat, VH_CHEAT_PAGEMAP))
		cheat_pagemap();
	assert_dma_roundtrip(&t.d, &t.buf, VH_A_DMA_ROUNDTRIP_EVERY_PAGE, !strcmp(p->cheat, VH_CHEAT_WRONG_DMA));
	assert_pressure_moves_unpinned(p->pages);
	assert_pa_stable_under_pressure(&t);
	assert_dma_roundtrip(&t.d, &t.buf, VH_A_DMA_AFTER_PRESSURE, 0);
	assert_get_pa_unmapped_enoent(&t);
	assert_get_pa_zero_length_einval(&t);
	assert_get_hw_info_refused(&t);
	assert_unmap_restores(&t.d, &t.buf, t.pin_before, &t.pin_mapped);
	assert_sandbox_clean();
	return ktap_failures() ? 1 : 0;
}
