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

static struct dmabuf buf, loose;

int case_noiommu_dma(const struct plan *p)
{
	struct vdev d = { .bdf = p->dma_bdf, .devfd = -1, .iommufd = -1 };
	long pin_before = 0, pin_mapped = 0;
	uint64_t len, pa;
	int err;

	ktap_header(ASSERTIONS);
	dma_seed_from(p->cmdline);
	require_noiommu_kernel();
	assert_bound_to_vfio_pci(&d);
	assert_noiommu_cdev(&d);
	assert_taint_user();
	/* Induced failures, for the harness's own tests (vh.induce=). */
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
	assert_bind_iommufd(&d);
	assert_ioas_alloc(&d);
	assert_attach_ioas(&d);
	assert_edu_bar0(&d);

	if (step(VH_A_IOAS_MAP)) {
		pin_before = observe_vmpin_kb();
		err = dmabuf_create(&buf, p->pages, IOVA);
		if (!err)
			err = ioas_map(d.iommufd, d.ioas, buf.va, buf.len, buf.iova);
		if (err)
			fail_hard(VH_A_IOAS_MAP, "map", -err, "IOMMU_IOAS_MAP of a memfd-backed buffer", "%d pages failed", p->pages);
		else
			pass(VH_A_IOAS_MAP);
		/* Negative controls: what legacy no-IOMMU drivers do to keep memory in place. */
		driver_cheat(p->cheat, &buf, d.bdf);
	}
	if (step(VH_A_VMPIN_GROWS_BY_MAPPED_SIZE)) {
		pin_mapped = observe_vmpin_kb();
		if (pin_before < 0 || pin_mapped < 0)
			fail_soft(VH_A_VMPIN_GROWS_BY_MAPPED_SIZE, "map", (int)-(pin_before < 0 ? pin_before : pin_mapped), "the observer reads VmPin",
				  "VmPin %ld before map, %ld mapped", pin_before, pin_mapped);
		else if (pin_mapped - pin_before != (long)(buf.len / 1024))
			fail_soft(VH_A_VMPIN_GROWS_BY_MAPPED_SIZE, "map", 0, "VmPin grows by the mapped size",
				  "VmPin %ld kB -> %ld kB for %llu kB mapped", pin_before, pin_mapped, (unsigned long long)buf.len / 1024);
		else
			pass(VH_A_VMPIN_GROWS_BY_MAPPED_SIZE);
	}
	assert_get_pa_every_page(&d, &buf);
	if (!strcmp(p->cheat, VH_CHEAT_PAGEMAP)) {
		int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

		ktap_info("cheat", "open /proc/self/pagemap -> %d", fd < 0 ? -errno : 0);
	}
	cheat_wrong_dma = !strcmp(p->cheat, VH_CHEAT_WRONG_DMA);
	assert_dma_roundtrip(&d, &buf, VH_A_DMA_ROUNDTRIP_EVERY_PAGE);
	cheat_wrong_dma = 0;
	/* The control: the same push on a buffer nobody pinned must move it, or the pinned result says nothing. */
	if (step(VH_A_PRESSURE_MOVES_UNPINNED)) {
		struct vh_pressure pr;

		err = dmabuf_create(&loose, p->pages, 0);
		if (!err)
			err = observe_pressure(loose.va, loose.len, &pr);
		ktap_info("pressure_unpinned", "%s", err ? strerrorname_np(-err) : pr.text);
		if (err)
			fail_soft(VH_A_PRESSURE_MOVES_UNPINNED, "pressure", -err, "an unpinned memfd buffer of the same size to push on", "failed");
		else if (!pressure_applied(&pr) || pr.moved != pr.pages)
			fail_soft(VH_A_PRESSURE_MOVES_UNPINNED, "pressure", pr.first_err, "move_pages puts every unpinned page on the other node",
				  "%u of %u pages moved (%s)", pr.moved, pr.pages, pr.text);
		else
			pass(VH_A_PRESSURE_MOVES_UNPINNED);
		if (loose.va)
			munmap(loose.va, loose.len);
		if (loose.memfd > 0)
			close(loose.memfd);
	}
	if (step(VH_A_PA_STABLE_UNDER_PRESSURE)) {
		struct dmabuf again = buf;
		struct vh_pressure pr;
		uint64_t bad = 0;
		uint32_t moved = 0;

		err = observe_pressure(buf.va, buf.len, &pr);
		ktap_info("pressure", "%s", pr.text);
		if (!err)
			err = get_pa_all(&d, &again, &bad);
		for (uint64_t i = 0; !err && i < buf.len / VH_PAGE; i++)
			moved += again.pa[i] != buf.pa[i];
		if (err || moved || pr.moved)
			fail_hard(VH_A_PA_STABLE_UNDER_PRESSURE, "pressure", err == -EBADMSG ? 0 : -err, "the same PA for every page after compaction and move_pages",
				  "GET_PA changed for %u pages, move_pages moved %u (%s)", moved, pr.moved, pr.text);
		else if (!pressure_applied(&pr))
			fail_soft(VH_A_PA_STABLE_UNDER_PRESSURE, "pressure", pr.first_err, "move_pages tried every pinned page on another node",
				  "no pressure applied to %u of %u pages (%s)", pr.pages - pr.held, pr.pages, pr.text);
		else
			pass(VH_A_PA_STABLE_UNDER_PRESSURE);
	}
	assert_dma_roundtrip(&d, &buf, VH_A_DMA_AFTER_PRESSURE);

	if (step(VH_A_GET_PA_UNMAPPED_ENOENT)) {
		len = VH_PAGE;
		err = noiommu_get_pa(d.iommufd, d.ioas, IOVA + buf.len + 0x100000, &len, &pa);
		if (err != -ENOENT)
			fail_soft(VH_A_GET_PA_UNMAPPED_ENOENT, "get_pa", -err, "ENOENT", "GET_PA on an unmapped IOVA returned %d", err);
		else
			pass(VH_A_GET_PA_UNMAPPED_ENOENT);
	}
	if (step(VH_A_GET_PA_ZERO_LENGTH_EINVAL)) {
		len = 0;
		err = noiommu_get_pa(d.iommufd, d.ioas, IOVA, &len, &pa);
		if (err != -EINVAL)
			fail_soft(VH_A_GET_PA_ZERO_LENGTH_EINVAL, "get_pa", -err, "EINVAL", "GET_PA with length 0 returned %d", err);
		else
			pass(VH_A_GET_PA_ZERO_LENGTH_EINVAL);
	}
	if (step(VH_A_GET_HW_INFO_REFUSED)) {
		err = iommu_get_hw_info(d.iommufd, d.devid);
		if (err != -EOPNOTSUPP)
			fail_soft(VH_A_GET_HW_INFO_REFUSED, "hw_info", -err, "EOPNOTSUPP", "IOMMU_GET_HW_INFO returned %d", err);
		else
			pass(VH_A_GET_HW_INFO_REFUSED);
	}
	if (step(VH_A_UNMAP_RESTORES_VMPIN)) {
		long after;

		err = ioas_unmap(d.iommufd, d.ioas, buf.iova, buf.len);
		after = observe_vmpin_kb();
		/* An observer error is no VmPin reading: the same errno twice is not "restored". */
		if (pin_before < 0 || after < 0)
			fail_soft(VH_A_UNMAP_RESTORES_VMPIN, "unmap", (int)-(after < 0 ? after : pin_before), "the observer reads VmPin before and after",
				  "VmPin %ld before map, %ld after unmap", pin_before, after);
		else if (err || after != pin_before)
			fail_soft(VH_A_UNMAP_RESTORES_VMPIN, "unmap", -err, "IOAS_UNMAP succeeds and VmPin returns",
				  "VmPin %ld kB before map, %ld kB mapped, %ld kB after unmap", pin_before, pin_mapped, after);
		else
			pass(VH_A_UNMAP_RESTORES_VMPIN);
	}
	assert_sandbox_clean();
	return ktap_failures() ? 1 : 0;
}
