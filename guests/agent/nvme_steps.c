/* The nvme handover's assertions: a controller brought up with its queues in the preserved memfd,
 * then, after the kexec, found still enabled on those queues and driven on without reinitialising. */
#include "driver.h"
#include "ktap.h"
#include "nvme.h"
#include "nvme_steps.h"
#include "vfio.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/pci_regs.h>
#include <time.h>

#define NVME_LBA 8 /* where stage 1 writes its page: not block 0, which a native driver would read first */
#define SERIAL "vh-nvme"

static const char *err_text(int err, uint16_t status, char *out, size_t cap)
{
	if (err == -EIO)
		snprintf(out, cap, "NVMe status 0x%x", status);
	else
		snprintf(out, cap, "%s", strerror(-err));
	return out;
}

/* BAR0 mapped and bus master on: vfio-pci's first open cleared it, and the controller DMAs its queues. */
static int map_bar(struct vdev *d)
{
	uint16_t cmd = 0;
	int err = 0;

	if (!d->bar)
		d->bar = vfio_map_bar(d->devfd, 0, &d->bar_size, &err);
	if (!err)
		err = vfio_config_read16(d->devfd, PCI_COMMAND, &cmd);
	if (!err)
		err = vfio_config_write16(d->devfd, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return err;
}

/* The step begins, with BAR0 mapped and bus master on; false when it is not to run or failed already. */
static int step_with_bar(const char *name, struct vdev *d)
{
	int err;

	if (!step(name))
		return 0;
	err = map_bar(d);
	if (err)
		fail_hard(name, "bar", -err, "BAR0 maps and bus master sets", "failed");
	return !err;
}

static void controller_ready(struct vdev *d, struct dmabuf *b, struct nvme *n)
{
	const char *name = VH_A_NVME_CONTROLLER_READY;
	struct nvme_regs r;
	char seen[160];
	int err;

	if (!step_with_bar(name, d))
		return;
	nvme_attach(n, d->bar, b->va, b->pa);
	err = nvme_enable(n);
	nvme_read_regs(n, &r);
	nvme_describe_regs(&r, seen, sizeof(seen));
	if (err)
		fail_hard(name, "nvme", -err, "CSTS.RDY within the poll limit after CC.EN with the admin queues in the memfd", "%s", seen);
	else
		pass(name);
}

/* Identify Controller lands in its page: the serial QEMU was given proves the DMA went where GET_PA said. */
static void identify(struct nvme *n, struct dmabuf *b)
{
	const char *name = VH_A_NVME_IDENTIFY;
	const char *sn = (const char *)b->va + (size_t)NVME_IDENTIFY * VH_PAGE + 4;
	uint16_t status = 0;
	char why[64];
	int err;

	if (!step(name))
		return;
	memset(b->va + (size_t)NVME_IDENTIFY * VH_PAGE, 0, VH_PAGE);
	err = nvme_identify(n, &status);
	if (err)
		fail_hard(name, "nvme", -err, "Identify Controller completes", "%s", err_text(err, status, why, sizeof(why)));
	else if (strncmp(sn, SERIAL, strlen(SERIAL)))
		fail_hard(name, "nvme", 0, "serial " SERIAL " in the Identify page", "%.20s", sn);
	else
		pass(name);
}

static void io_queues(struct nvme *n)
{
	uint16_t status = 0;
	char why[64];
	int err;

	if (!step(VH_A_NVME_IO_QUEUES))
		return;
	err = nvme_create_io_queues(n, &status);
	if (err)
		fail_hard(VH_A_NVME_IO_QUEUES, "nvme", -err, "Create I/O CQ and SQ 1 complete", "%s", err_text(err, status, why, sizeof(why)));
	else
		pass(VH_A_NVME_IO_QUEUES);
}

/* Reads the stage's page back from the namespace into the page after it, compared byte for byte. */
static int read_back(struct nvme *n, struct dmabuf *b, const char *name, char *why, size_t cap)
{
	uint8_t *data = b->va + (size_t)NVME_DATA * VH_PAGE, *back = data + VH_PAGE;
	uint16_t status = 0;
	int err;

	memset(back, 0, VH_PAGE);
	err = nvme_rw(n, 0, NVME_LBA, b->pa[NVME_DATA + 1], &status);
	if (err) {
		fail_soft(name, "nvme", -err, "the read completes", "%s", err_text(err, status, why, cap));
		return -1;
	}
	for (uint32_t i = 0; i < VH_PAGE; i++) {
		if (back[i] != data[i]) {
			fail_soft(name, "nvme", 0, "the page read back equals the page written", "byte %u: 0x%02x, wanted 0x%02x", i, back[i], data[i]);
			return -1;
		}
	}
	return 0;
}

static void write_read(struct nvme *n, struct dmabuf *b)
{
	const char *name = VH_A_NVME_WRITE_READ;
	uint16_t status = 0;
	char why[64];
	int err;

	if (!step(name))
		return;
	rng_fill(b->va + (size_t)NVME_DATA * VH_PAGE, VH_PAGE);
	err = nvme_rw(n, 1, NVME_LBA, b->pa[NVME_DATA], &status);
	if (err)
		fail_soft(name, "nvme", -err, "the write completes", "%s", err_text(err, status, why, sizeof(why)));
	else if (!read_back(n, b, name, why, sizeof(why)))
		pass(name);
}

void nvme_first_stage(struct vdev *d, struct dmabuf *b, struct nvme *n)
{
	controller_ready(d, b, n);
	identify(n, b);
	io_queues(n);
	write_read(n, b);
}

void assert_nvme_not_reset(struct vdev *d, struct nvme *n, const struct nvme_regs *was)
{
	struct nvme_regs now;
	char seen[160], expected[200];

	if (!step_with_bar(VH_A_NOT_RESET, d))
		return;
	n->bar = d->bar;
	nvme_read_regs(n, &now);
	nvme_describe_regs(&now, seen, sizeof(seen));
	nvme_describe_regs(was, expected, sizeof(expected) - 40);
	strcat(expected, ", as the previous stage left them");
	if (!(now.csts & 1) || now.cc != was->cc || now.aqa != was->aqa || now.asq != was->asq || now.acq != was->acq)
		fail_soft(VH_A_NOT_RESET, "retrieve", 0, expected, "%s", seen);
	else
		pass(VH_A_NOT_RESET);
}

void assert_nvme_io_resumes(struct vdev *d, struct dmabuf *b, struct nvme *n, const struct nvme_cursor *c, int last)
{
	const char *name = VH_A_NVME_IO_RESUMES;
	char why[64];

	if (!step(name))
		return;
	/* The queues are where they were: only the driver's cursors come from the previous stage. */
	nvme_attach(n, d->bar, b->va, b->pa);
	nvme_restore(n, c);
	if (!read_back(n, b, name, why, sizeof(why)))
		pass(name);
	if (last)
		nvme_disable(n);
}

#define IN_FLIGHT_LBA 64  /* the namespace blocks the in-flight reads come from, 8 per page */
#define NOT_LANDED 0xee   /* what a target page holds until its read lands */
#define LAND_WAIT_MS 15000 /* after /init, for reads the throttled drive has not served yet */
#define STRAY_IOVA 0x40000000ull /* far above the preserved buffer's IOVAs */
#define STRAY_LBA (1ull << 30) /* past the end of any drive a case gives */

/* What target page i holds once its read landed: what stage 1 wrote at its blocks. */
static void in_flight_pattern(uint8_t *p, uint32_t i)
{
	for (uint32_t j = 0; j < VH_PAGE; j++)
		p[j] = (uint8_t)(0x5a ^ (i * 131u) ^ (j * 7u) ^ (j >> 8));
}

static uint8_t *target(struct dmabuf *b, uint32_t i)
{
	return b->va + (size_t)(NVME_IN_FLIGHT + i) * VH_PAGE;
}

uint64_t nvme_in_flight_pages(uint32_t count)
{
	uint64_t mask = 1ull << NVME_IOCQ;

	for (uint32_t i = 0; i < count; i++)
		mask |= 1ull << (NVME_IN_FLIGHT + i);
	return mask;
}

/* Negative control (vh.cheat=dma-unpreserved): a page of a buffer nobody preserves, mapped and pinned like the rest. */
static uint64_t stray_page(struct vdev *d)
{
	static struct dmabuf stray;
	uint64_t bad = 0;
	int err = dmabuf_create(&stray, 1, STRAY_IOVA);

	if (!err)
		err = ioas_map_file(d->iommufd, d->ioas, stray.memfd, 0, stray.len, stray.iova);
	if (!err)
		err = get_pa_all(d, &stray, &bad);
	ktap_info("cheat", "the last in-flight read targets an unpreserved page: %s0x%llx", err ? "failed, " : "", (unsigned long long)stray.pa[0]);
	return err ? 0 : stray.pa[0];
}

uint64_t nvme_issue_in_flight(struct vdev *d, struct nvme *n, struct dmabuf *b, uint32_t count, enum nvme_stray stray)
{
	const char *name = VH_A_DMA_IN_FLIGHT_ISSUED;
	uint64_t stray_pa = stray != NVME_STRAY_NONE ? stray_page(d) : 0;
	uint32_t last = count - 1;
	uint16_t status = 0;
	char why[64];
	int err = 0;

	if (!step(name))
		return 0;
	for (uint32_t i = 0; i < count && !err; i++) {
		in_flight_pattern(target(b, i), i);
		err = nvme_rw(n, 1, IN_FLIGHT_LBA + 8u * i, b->pa[NVME_IN_FLIGHT + i], &status);
	}
	if (err) {
		fail_soft(name, "nvme", -err, "the patterns written to the namespace", "%s", err_text(err, status, why, sizeof(why)));
		return 0;
	}
	for (uint32_t i = 0; i < count; i++)
		memset(target(b, i), NOT_LANDED, VH_PAGE);
	__sync_synchronize();
	/* Not waited for: the throttled drive serves them one by one while this kernel hands over and the next boots. */
	for (uint32_t i = 0; i < last; i++)
		nvme_read_nowait(n, IN_FLIGHT_LBA + 8u * i, b->pa[NVME_IN_FLIGHT + i]);
	/* NVME_STRAY_REFUSED asks for blocks past the namespace: the device refuses it, so it never really writes the next
	 * kernel's memory (when it did, init died of a GP fault), yet its queue entry targets the unpreserved page.
	 * NVME_STRAY_LANDS reads real blocks into it: the next kernel is told to keep off that page (memmap=). */
	if (stray_pa)
		nvme_read_nowait(n, stray == NVME_STRAY_REFUSED ? STRAY_LBA : IN_FLIGHT_LBA + 8u * last, stray_pa);
	else
		nvme_read_nowait(n, IN_FLIGHT_LBA + 8u * last, b->pa[NVME_IN_FLIGHT + last]);
	pass(name);
	return stray == NVME_STRAY_LANDS ? stray_pa : 0;
}

/* Each target page: landed (the pattern), not landed (untouched), or torn (anything else). */
static void count_landed(struct dmabuf *b, uint32_t count, uint32_t *landed, uint32_t *torn)
{
	uint8_t want[VH_PAGE];

	*landed = *torn = 0;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *p = target(b, i);
		int untouched = 1;

		in_flight_pattern(want, i);
		if (!memcmp(p, want, VH_PAGE)) {
			(*landed)++;
			continue;
		}
		for (uint32_t j = 0; j < VH_PAGE && untouched; j++)
			untouched = p[j] == NOT_LANDED;
		*torn += !untouched;
	}
}

/* Whether pa is one of the preserved buffer's pages, as the previous stage recorded them. */
static int preserved(uint64_t pa, const uint64_t *pages, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (pages[i] == pa)
			return 1;
	return 0;
}

void assert_in_flight_targets(struct dmabuf *b, const struct nvme_cursor *c, uint32_t count, const uint64_t *pages, uint32_t npages)
{
	const char *name = VH_A_DMA_TARGETS_PRESERVED;
	/* The device's own instructions: the submission queue entries in the preserved memfd. */
	const uint32_t *sq = (const uint32_t *)(b->va + (size_t)NVME_IOSQ * VH_PAGE);

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	for (uint32_t k = 0; k < count; k++) {
		uint32_t slot = (c->iosq_tail + NVME_QUEUE_DEPTH - count + k) % NVME_QUEUE_DEPTH;
		uint64_t prp = sq[slot * 16 + 6] | (uint64_t)sq[slot * 16 + 7] << 32;

		if (!preserved(prp, pages, npages)) {
			fail_soft(name, "retrieve", 0, "every read in flight across the kexec targets a page the previous kernel preserved",
				  "read %u of %u (queue slot %u) targets 0x%llx, which no preserved page holds", k + 1, count, slot, (unsigned long long)prp);
			return;
		}
	}
	pass(name);
}

uint32_t nvme_in_flight_landed(struct dmabuf *b, uint32_t count)
{
	uint32_t landed, torn;

	count_landed(b, count, &landed, &torn);
	return landed;
}

uint32_t nvme_in_flight_untouched(struct dmabuf *b, uint32_t count)
{
	uint32_t mask = 0;

	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *p = target(b, i);
		uint32_t j = 0;

		while (j < VH_PAGE && p[j] == NOT_LANDED)
			j++;
		mask |= (uint32_t)(j == VH_PAGE) << i;
	}
	return mask;
}

void assert_in_flight_landed(struct nvme *n, struct dmabuf *b, struct nvme_cursor *c, uint32_t count, int command)
{
	const char *name = VH_A_DMA_IN_FLIGHT_LANDED;
	uint32_t landed, torn, at_init, done, failed = 0;
	uint64_t t0 = now_ms();
	char master[64] = "";

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	if (command >= 0 && !(command & PCI_COMMAND_MASTER))
		snprintf(master, sizeof(master), "; bus master cleared across the kexec (PCI_COMMAND 0x%04x)", command);
	n->iocq.entries = b->va + (size_t)NVME_IOCQ * VH_PAGE;
	count_landed(b, count, &at_init, &torn);
	landed = at_init;
	while (landed + torn < count && now_ms() - t0 < LAND_WAIT_MS) {
		nap_ms(20);
		count_landed(b, count, &landed, &torn);
	}
	/* The device's own record: completions it wrote into the queue in the preserved memfd. */
	done = nvme_completions_since(n, c, count, &failed);
	nvme_consumed(c, done);
	ktap_info("in_flight_landed_by_init", "%u/%u", at_init, count);
	ktap_info("in_flight_completions", "%u (%u with an error status)", done, failed);
	if (landed != count || done != count || failed)
		fail_soft(name, "retrieve", 0, "every read issued before the kexec landed whole in its preserved page, and its completion in the queue",
			  "%u of %u landed (%u by /init), %u torn, %u completions in the queue, %u with an error status%s", landed, count, at_init, torn,
			  done, failed, master);
	else
		pass(name);
}
