#include "driver.h"
#include "edu.h"
#include "kmsg.h"
#include "ktap.h"
#include "sandbox.h"
#include "vfio.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/mempolicy.h>
#include <linux/pci_regs.h>
#include <linux/perf_event.h>

#define NOIOMMU_PARAM "/sys/module/vfio/parameters/enable_unsafe_noiommu_mode"

void require_noiommu_kernel(void)
{
	char v[8];

	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK))
		lacks("kernel has no vfio-pci driver (CONFIG_VFIO_PCI)");
	else if (access("/dev/iommu", F_OK))
		lacks("kernel has no /dev/iommu (CONFIG_IOMMUFD)");
	else if (read_file(NOIOMMU_PARAM, v, sizeof(v)))
		lacks("kernel lacks VFIO no-IOMMU mode (CONFIG_VFIO_NOIOMMU): no " NOIOMMU_PARAM);
	else if (v[0] != 'Y')
		lacks("vfio.enable_unsafe_noiommu_mode is off in this boot");
}

void assert_bound_to_vfio_pci(struct vdev *d)
{
	const char *name = VH_A_BOUND_TO_VFIO_PCI;
	char drv[64] = "";
	int err;

	if (!step(name))
		return;
	err = pci_bind_vfio(d->bdf);
	if (!err)
		err = pci_driver(d->bdf, drv, sizeof(drv));
	if (err || strcmp(drv, "vfio-pci"))
		fail_hard(name, "bind", -err, "driver vfio-pci via driver_override", "driver '%s' after binding %s", drv, d->bdf);
	else
		pass(name);
}

/* The device's vfio cdev opened: noiommu-vfioN without an IOMMU, vfioN (and an IOMMU group) behind one. */
static void assert_cdev(struct vdev *d, const char *name, int iommu)
{
	char path[128];
	int err;

	if (!step(name))
		return;
	err = vfio_cdev_name(d->bdf, d->cdev, sizeof(d->cdev));
	if (err) {
		fail_hard(name, "cdev", -err, "a vfio-dev entry under the device", "none");
		return;
	}
	if ((strncmp(d->cdev, "noiommu-vfio", 12) == 0) == iommu) {
		fail_hard(name, "cdev", 0, iommu ? "/dev/vfio/devices/vfioN" : "/dev/vfio/devices/noiommu-vfioN", "/dev/vfio/devices/%s", d->cdev);
		return;
	}
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", d->cdev);
	d->devfd = open(path, O_RDWR | O_CLOEXEC);
	if (d->devfd < 0) {
		fail_hard(name, "cdev", errno, "open succeeds", "open(%s) failed", path);
		return;
	}
	ktap_info("cdev", "%s", path);
	pass(name);
}

void assert_noiommu_cdev(struct vdev *d)
{
	assert_cdev(d, VH_A_NOIOMMU_CDEV, 0);
}

void assert_iommu_cdev(struct vdev *d)
{
	char link[256], path[160];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", d->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		ktap_info("iommu_group", "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	}
	assert_cdev(d, VH_A_IOMMU_CDEV, 1);
}

/* The kernel's gate for iommu mode: vfio-pci and iommufd, and an IOMMU that translates this device in this boot. */
void require_iommu_kernel(const char *bdf)
{
	char path[160];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK))
		lacks("kernel has no vfio-pci driver (CONFIG_VFIO_PCI)");
	else if (access("/dev/iommu", F_OK))
		lacks("kernel has no /dev/iommu (CONFIG_IOMMUFD)");
	else if (access(path, F_OK))
		lacks("no IOMMU translates %s in this boot: it has no iommu_group (CONFIG_INTEL_IOMMU, intel_iommu=on, a DMAR table)", bdf);
}

void require_dma_mode(int iommu, const char *bdf)
{
	if (iommu)
		require_iommu_kernel(bdf);
	else
		require_noiommu_kernel();
}

void assert_taint_user(void)
{
	const char *name = VH_A_TAINT_USER_SET;
	long t;

	if (!step(name))
		return;
	t = observe_taint();
	if (t < 0 || !(t & 64))
		fail_soft(name, "cdev", t < 0 ? (int)-t : 0, "tainted & 64 (U)", "tainted = %ld", t);
	else
		pass(name);
}

void assert_bind_iommufd(struct vdev *d)
{
	const char *name = VH_A_BIND_IOMMUFD;
	int err;

	if (!step(name))
		return;
	d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (d->iommufd < 0) {
		fail_hard(name, "bind", errno, "open(/dev/iommu) succeeds", "open failed");
		return;
	}
	err = vfio_bind_iommufd(d->devfd, d->iommufd, &d->devid);
	if (err)
		fail_hard(name, "bind", -err, "VFIO_DEVICE_BIND_IOMMUFD succeeds", "ioctl failed");
	else
		pass(name);
}

void assert_ioas_alloc(struct vdev *d)
{
	const char *name = VH_A_IOAS_ALLOC;
	int err;

	if (!step(name))
		return;
	err = ioas_alloc(d->iommufd, &d->ioas);
	if (err)
		fail_hard(name, "ioas", -err, "IOMMU_IOAS_ALLOC succeeds", "ioctl failed");
	else
		pass(name);
}

void assert_attach_ioas(struct vdev *d)
{
	const char *name = VH_A_ATTACH_IOAS;
	int err;

	if (!step(name))
		return;
	err = vfio_attach_pt(d->devfd, d->ioas, &d->hwpt);
	if (err)
		fail_hard(name, "attach", -err, "VFIO_DEVICE_ATTACH_IOMMUFD_PT succeeds", "ioctl failed");
	else
		pass(name);
}

void assert_edu_bar0(struct vdev *d)
{
	const char *name = VH_A_EDU_BAR0_RESPONDS;
	uint32_t id, live;
	uint16_t cmd;
	int err;

	if (!step(name))
		return;
	d->bar = vfio_map_bar(d->devfd, 0, &d->bar_size, &err);
	if (!d->bar) {
		fail_hard(name, "bar", -err, "BAR0 mmap through the VFIO device fd", "failed");
		return;
	}
	id = edu_read32(d->bar, EDU_ID);
	edu_write32(d->bar, EDU_LIVENESS, 0x12345678u);
	live = edu_read32(d->bar, EDU_LIVENESS);
	if ((id & 0xffff) != 0xed || live != ~0x12345678u) {
		fail_hard(name, "bar", 0, "id 0x..ed and liveness 0xedcba987", "id 0x%08x liveness 0x%08x", id, live);
		return;
	}
	/* vfio-pci clears bus master when the device is opened; DMA needs it back. */
	err = vfio_config_read16(d->devfd, PCI_COMMAND, &cmd);
	if (!err)
		err = vfio_config_write16(d->devfd, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (err) {
		fail_hard(name, "bar", -err, "PCI_COMMAND bus master set through the config region", "failed");
		return;
	}
	ktap_info("edu_id", "0x%08x", id);
	pass(name);
}

int dmabuf_create(struct dmabuf *b, int pages, uint64_t iova)
{
	memset(b, 0, sizeof(*b));
	b->len = (uint64_t)pages * VH_PAGE;
	b->iova = iova;
	b->memfd = memfd_create("vh-dma", MFD_CLOEXEC);
	if (b->memfd < 0)
		return -errno;
	if (ftruncate(b->memfd, (off_t)b->len))
		return -errno;
	b->va = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, b->memfd, 0);
	if (b->va == MAP_FAILED) {
		b->va = NULL;
		return -errno;
	}
	memset(b->va, 0, b->len);
	return 0;
}

/* -EBADMSG marks an answer that is not a page-aligned PA with a whole-page length. */
int get_pa_all(struct vdev *d, struct dmabuf *b, uint64_t *bad_iova)
{
	uint64_t off = 0;

	b->runs = 0;
	while (off < b->len) {
		uint64_t len = b->len - off, pa = 0;
		int err = noiommu_get_pa(d->iommufd, d->ioas, b->iova + off, &len, &pa);

		*bad_iova = b->iova + off;
		if (err)
			return err;
		if (!pa || (pa & (VH_PAGE - 1)) || !len || (len & (VH_PAGE - 1)) || len > b->len - off)
			return -EBADMSG;
		for (uint64_t k = 0; k < len / VH_PAGE; k++)
			b->pa[(off / VH_PAGE) + k] = pa + k * VH_PAGE;
		off += len;
		b->runs++;
	}
	return 0;
}

int dmabuf_adopt(struct dmabuf *b, int memfd, int pages, uint64_t iova)
{
	memset(b, 0, sizeof(*b));
	b->len = (uint64_t)pages * VH_PAGE;
	b->iova = iova;
	b->memfd = memfd;
	b->va = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (b->va == MAP_FAILED) {
		b->va = NULL;
		return -errno;
	}
	return 0;
}

/* FNV-1a over the whole buffer: what crossed the kexec must hash the same. */
uint64_t dmabuf_digest_except(const struct dmabuf *b, uint64_t skip_pages)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (uint64_t i = 0; i < b->len; i++) {
		if (i / VH_PAGE < 64 && (skip_pages >> (i / VH_PAGE) & 1))
			continue;
		h ^= b->va[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t dmabuf_digest(const struct dmabuf *b)
{
	return dmabuf_digest_except(b, 0);
}

static void cheat_said(const char *what, long rc)
{
	ktap_info("cheat", "%s -> %ld", what, rc < 0 ? -(long)errno : 0L);
}

/* Ways to keep the buffer in place by hand: what the kernel's pinning makes unnecessary. */
static void cheat_pinning(const char *cheat, const struct dmabuf *b)
{
	if (!strcmp(cheat, VH_CHEAT_MLOCK))
		cheat_said(VH_CHEAT_MLOCK, mlock(b->va, b->len));
	if (!strcmp(cheat, VH_CHEAT_MPROTECT))
		cheat_said(VH_CHEAT_MPROTECT, mprotect(b->va, b->len, PROT_READ | PROT_WRITE));
	if (!strcmp(cheat, VH_CHEAT_MAP_LOCKED)) {
		void *m = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, b->memfd, 0);

		cheat_said("mmap(MAP_LOCKED) of the buffer's memfd", m == MAP_FAILED ? -1 : 0);
	}
	if (!strcmp(cheat, VH_CHEAT_REMAP)) {
		void *m = mmap(b->va, b->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		void *other = mmap(NULL, b->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		cheat_said("mmap(MAP_FIXED) over the buffer", m == MAP_FAILED ? -1 : 0);
		cheat_said("mremap over the buffer", syscall(SYS_mremap, other, b->len, b->len, MREMAP_MAYMOVE | MREMAP_FIXED, b->va));
	}
	if (!strcmp(cheat, VH_CHEAT_X32))
		cheat_said("x32 mlock", syscall(__X32_SYSCALL_BIT | SYS_mlock, b->va, b->len));
}

/* Syscalls that move, page out or reveal the buffer's memory, or reach the hardware past VFIO. */
static void cheat_syscalls(const char *cheat, const struct dmabuf *b)
{
	unsigned long nodes = 2;

	if (!strcmp(cheat, VH_CHEAT_IO_URING)) {
		/* A zeroed struct io_uring_params (120 bytes; its header clashes with glibc's) asks for defaults. */
		uint64_t up[15] = { 0 };

		cheat_said("io_uring_setup", syscall(SYS_io_uring_setup, 4, up));
	}
	if (!strcmp(cheat, VH_CHEAT_MEMPOLICY)) {
		int mode = 0;

		cheat_said("mbind(MPOL_MF_MOVE) to node 1", syscall(SYS_mbind, b->va, b->len, MPOL_BIND, &nodes, 64, MPOL_MF_MOVE));
		cheat_said("set_mempolicy(MPOL_BIND)", syscall(SYS_set_mempolicy, MPOL_BIND, &nodes, 64));
		cheat_said("get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR)", syscall(SYS_get_mempolicy, &mode, NULL, 0, b->va, MPOL_F_NODE | MPOL_F_ADDR));
	}
	if (!strcmp(cheat, VH_CHEAT_IOPORT)) {
		cheat_said("iopl(3)", syscall(SYS_iopl, 3));
		cheat_said("ioperm", syscall(SYS_ioperm, 0xcf8, 8, 1));
	}
	if (!strcmp(cheat, VH_CHEAT_PERF_EVENT)) {
		struct perf_event_attr pe = { .size = sizeof(pe), .type = PERF_TYPE_SOFTWARE, .config = PERF_COUNT_SW_PAGE_FAULTS,
					      .sample_period = 1, .sample_type = PERF_SAMPLE_ADDR | PERF_SAMPLE_PHYS_ADDR };

		cheat_said("perf_event_open(PERF_SAMPLE_PHYS_ADDR)", syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0));
	}
	if (!strcmp(cheat, VH_CHEAT_PROCESS_MADVISE)) {
		struct iovec iov = { .iov_base = b->va, .iov_len = b->len };
		long pidfd = syscall(SYS_pidfd_open, getpid(), 0);

		cheat_said("process_madvise(MADV_PAGEOUT)", syscall(SYS_process_madvise, (int)pidfd, &iov, 1, MADV_PAGEOUT, 0));
	}
}

/* Files the driver must not open: physical memory, the device past VFIO, /proc by another name, anything outside the sandbox. */
static void cheat_opens(const char *cheat, const struct dmabuf *b, const char *bdf)
{
	char path[160];

	if (!strcmp(cheat, VH_CHEAT_DEV_MEM))
		cheat_said("open /dev/mem", open("/dev/mem", O_RDWR | O_CLOEXEC));
	if (!strcmp(cheat, VH_CHEAT_PCI_SYSFS)) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
		cheat_said("open config for writing", open(path, O_WRONLY | O_CLOEXEC));
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
		cheat_said("open resource0", open(path, O_RDWR | O_CLOEXEC));
	}
	if (!strcmp(cheat, VH_CHEAT_PROC_ALIAS)) {
		static const char *const aliases[] = { "proc/self/pagemap", "//proc/self/pagemap", "/./proc/self/pagemap", NULL };

		for (int i = 0; aliases[i]; i++)
			cheat_said(aliases[i], open(aliases[i], O_RDONLY | O_CLOEXEC));
		/* /dev/fd is a symlink to /proc/self/fd. */
		snprintf(path, sizeof(path), "/dev/fd/%d", b->memfd);
		cheat_said(path, open(path, O_RDWR | O_CLOEXEC));
	}
	if (!strcmp(cheat, VH_CHEAT_LANDLOCK))
		cheat_said("open /init", open("/init", O_RDONLY | O_CLOEXEC));
}

void driver_cheat(const char *cheat, struct dmabuf *b, const char *bdf)
{
	cheat_pinning(cheat, b);
	cheat_syscalls(cheat, b);
	cheat_opens(cheat, b, bdf);
}

void assert_unmap_restores(struct vdev *d, const struct dmabuf *b, long before, const long *mapped)
{
	const char *name = VH_A_UNMAP_RESTORES_VMPIN;
	char was[48] = "";
	long after;
	int err;

	if (!step(name))
		return;
	err = ioas_unmap(d->iommufd, d->ioas, b->iova, b->len);
	after = observe_vmpin_kb();
	if (mapped)
		snprintf(was, sizeof(was), "%ld kB mapped, ", *mapped);
	/* An observer error is no VmPin reading: the same errno twice is not "restored". */
	if (before < 0 || after < 0)
		fail_soft(name, "unmap", (int)-(after < 0 ? after : before), "the observer reads VmPin before and after",
			  "VmPin %ld before map, %ld after unmap", before, after);
	else if (err || after != before)
		fail_soft(name, "unmap", -err, "IOAS_UNMAP succeeds and VmPin returns", "VmPin %ld kB before map, %s%ld kB after unmap", before, was, after);
	else
		pass(name);
}

void assert_sandbox_clean(void)
{
	const char *name = VH_A_SANDBOX_NO_REFUSALS;
	char text[1024];
	long n;

	if (vh_shared->sandbox_error[0]) {
		ktap_skip(name, "sandbox: kernel refused %s", vh_shared->sandbox_error);
		return;
	}
	/* Refusals are counted whatever else failed: no blocker applies here. */
	if (lacking()) {
		step(name);
		return;
	}
	n = observe_refusals(text, sizeof(text));
	if (n < 0)
		fail_soft(name, "sandbox", (int)-n, "the observer answers", "no answer");
	else if (n > 0)
		fail_soft(name, "sandbox", 0, "no refusals by seccomp or the /proc guard", "%s", text);
	else
		pass(name);
}

void assert_get_pa_every_page(struct vdev *d, struct dmabuf *b)
{
	const char *name = VH_A_GET_PA_EVERY_PAGE;
	uint64_t bad = 0;
	int err;

	if (!step(name))
		return;
	err = get_pa_all(d, b, &bad);
	if (err == -ENOTTY) {
		lacks("kernel lacks IOMMU_IOAS_NOIOMMU_GET_PA: ioctl returned ENOTTY");
		step(name);
		return;
	}
	if (err == -EBADMSG) {
		fail_hard(name, "get_pa", 0, "page-aligned non-zero PA and a whole-page contiguous length", "iova 0x%llx", (unsigned long long)bad);
		return;
	}
	if (err) {
		fail_hard(name, "get_pa", -err, "GET_PA succeeds on a mapped IOVA", "failed at iova 0x%llx", (unsigned long long)bad);
		return;
	}
	ktap_info("get_pa_runs", "%u", b->runs);
	ktap_info("first_pa", "0x%llx", (unsigned long long)b->pa[0]);
	pass(name);
}

/* The DMA pattern's seed: per process, since the driver child runs one stage and every round trip of it replays one seed. */
static struct {
	uint64_t value;
	int given;    /* from vh.seed= */
	int reported; /* rng_seed() has it and the dma_seed line went out */
} seed;

void dma_seed_from(const char *cmdline)
{
	const char *at = strstr(cmdline, VH_KEY_SEED "=");

	if (at && (at == cmdline || at[-1] == ' ')) {
		seed.value = strtoull(at + strlen(VH_KEY_SEED "="), NULL, 0);
		seed.given = 1;
	}
}

/* One seed per boot, reported once: every round trip of the stage replays from vh.seed=. */
static void seed_once(uint64_t t0)
{
	if (seed.reported)
		return;
	/* GRND_INSECURE never waits for the CRNG at early boot: the seed only picks a pattern. */
	if (!seed.given && getrandom(&seed.value, sizeof(seed.value), GRND_INSECURE) != sizeof(seed.value) &&
	    getrandom(&seed.value, sizeof(seed.value), 0) != sizeof(seed.value))
		seed.value = t0 ^ (uptime_ms() << 20);
	rng_seed(seed.value);
	ktap_info("dma_seed", "0x%llx%s", (unsigned long long)seed.value, seed.given ? " (" VH_KEY_SEED ")" : "");
	seed.reported = 1;
}

/* QEMU before 9.1 refuses a transfer that ends exactly at the end of edu's 4 KiB buffer,
 * so each page goes out as 4095 bytes and comes back shifted by one byte; the byte the
 * device must not touch proves it wrote exactly where it was told. Even pages shift up,
 * odd pages down, so every byte position is moved by DMA in both directions across a run. */
#define DMA_XFER (VH_PAGE - 1)

/* Where the device is told page i is: its IOVA behind an IOMMU, its physical address (GET_PA) without one. */
static uint64_t dev_addr(const struct dmabuf *b, uint32_t i)
{
	return b->by_iova ? b->iova + (uint64_t)i * VH_PAGE : b->pa[i];
}

/* Far past any buffer a case maps at its IOVA: an address no IOAS of ours maps. */
#define OUTSIDE_OFFSET 0x4000000ull

static const char *addr_kind(const struct dmabuf *b)
{
	return b->by_iova ? "iova" : "pa";
}

/* Page i out to the device and back (into page i + 1 with wrong_page), checked byte for byte; 0, or -1 once failed. */
static int roundtrip_page(struct vdev *d, struct dmabuf *b, uint32_t i, uint8_t *want, const char *name, int wrong_page)
{
	uint32_t pages = (uint32_t)(b->len / VH_PAGE);
	uint8_t *page = b->va + (uint64_t)i * VH_PAGE;
	uint32_t out_off = i % 2 ? 1 : 0, in_off = i % 2 ? 0 : 1;
	int err;

	rng_fill(want, VH_PAGE);
	memcpy(page, want, VH_PAGE);
	err = edu_dma(d->bar, dev_addr(b, i) + out_off, DMA_XFER, 0);
	/* The host timestamps these marks to measure the kexec blackout. */
	if (!err && i == 0)
		ktap_info(VH_INFO_DMA_MARK, VH_DMA_MARK_FIRST);
	/* Overwrite the page so only the device's copy can restore it. */
	for (uint32_t k = 0; !err && k < VH_PAGE; k++)
		page[k] = (uint8_t)~want[k];
	if (!err)
		err = edu_dma(d->bar, dev_addr(b, wrong_page ? (i + 1) % pages : i) + in_off, DMA_XFER, 1);
	if (err) {
		fail_hard(name, "dma", -err, "edu DMA completes", "page %u (%s 0x%llx) timed out", i, addr_kind(b), (unsigned long long)dev_addr(b, i));
		return -1;
	}
	for (uint32_t k = 0; k < VH_PAGE; k++) {
		/* Byte k came from byte k - in_off + out_off, or (outside the window) was left alone. */
		int in_window = k >= in_off && k < in_off + DMA_XFER;
		uint8_t expect = in_window ? want[k - in_off + out_off] : (uint8_t)~want[k];

		if (page[k] != expect) {
			fail_hard(name, "dma", 0, "the bytes written before the round trip, untouched outside the window",
				  "page %u (%s 0x%llx) byte %u: 0x%02x, wanted 0x%02x", i, addr_kind(b), (unsigned long long)dev_addr(b, i), k, page[k], expect);
			return -1;
		}
	}
	return 0;
}

int dma_roundtrip_pages(struct vdev *d, struct dmabuf *b, const char *name, int wrong_page)
{
	uint8_t *want = malloc(VH_PAGE);
	uint64_t t0 = now_ms();
	uint32_t pages = (uint32_t)(b->len / VH_PAGE);

	if (!want) {
		fail_hard(name, "dma", ENOMEM, "a page to compare with", "malloc failed");
		return -1;
	}
	seed_once(t0);
	for (uint32_t i = 0; i < pages; i++) {
		if (roundtrip_page(d, b, i, want, name, wrong_page)) {
			free(want);
			return -1;
		}
	}
	ktap_info(VH_INFO_DMA_MARK, VH_DMA_MARK_LAST);
	ktap_info("dma_ms", "%llu", (unsigned long long)(now_ms() - t0));
	ktap_info("dma_transfers", "%u", pages * 2);
	free(want);
	return 0;
}

void assert_dma_roundtrip(struct vdev *d, struct dmabuf *b, const char *name, int wrong_page)
{
	if (step(name) && !dma_roundtrip_pages(d, b, name, wrong_page))
		pass(name);
}

/* The kernel's record of the IOMMU's fault for a transfer to addr: what the DMAR fault registers said, logged as it
 * handles the fault interrupt (asynchronously, so it is waited for); 1 found, 0 not within a second. */
static int iommu_fault_logged(uint64_t addr, char *line, size_t cap)
{
	char needle[48];
	int found = 0;

	snprintf(needle, sizeof(needle), "fault addr 0x%llx ", (unsigned long long)addr);
	for (int i = 0; i < 20 && found <= 0; i++) {
		found = kmsg_find(needle, line, cap);
		if (found <= 0)
			usleep(50000);
	}
	return found > 0;
}

/* Behind an IOMMU the device reaches only what the IOAS maps: a transfer to an IOVA it does not map must land nowhere
 * (no page of the buffer changes) and the IOMMU must fault it (its fault record, which an IOMMU that translates
 * nothing never makes). With vh.cheat=map-pa the driver maps page 0 at that IOVA too, and the transfer lands: the control. */
void assert_dma_outside_ioas_blocked(struct vdev *d, struct dmabuf *b, int map_pa)
{
	const char *name = VH_A_DMA_OUTSIDE_IOAS_BLOCKED;
	uint64_t target = b->iova + OUTSIDE_OFFSET;
	uint32_t changed = 0;
	char fault[256] = "";
	int err;

	if (!step(name))
		return;
	if (map_pa) {
		err = ioas_map_file(d->iommufd, d->ioas, b->memfd, 0, VH_PAGE, target);
		ktap_info("cheat", "page 0 also mapped at IOVA 0x%llx: %s", (unsigned long long)target, err ? strerrorname_np(-err) : "ok");
	}
	memset(b->va, 0x5a, VH_PAGE);
	memset(b->va + VH_PAGE, 0xa5, VH_PAGE);
	err = edu_dma(d->bar, b->iova + VH_PAGE, DMA_XFER, 0);
	if (!err)
		err = edu_dma(d->bar, target, DMA_XFER, 1);
	for (uint32_t k = 0; !err && k < VH_PAGE; k++)
		changed += b->va[k] != 0x5a;
	ktap_info("outside_target", "iova 0x%llx", (unsigned long long)target);
	if (err)
		fail_soft(name, "dma", -err, "edu DMA completes", "timed out");
	else if (changed)
		fail_soft(name, "dma", 0, "a transfer to an IOVA the IOAS does not map lands nowhere",
			  "%u bytes of page 0 changed by a transfer to IOVA 0x%llx", changed, (unsigned long long)target);
	else if (!iommu_fault_logged(target, fault, sizeof(fault)))
		fail_soft(name, "dma", 0, "the IOMMU faults a transfer to an IOVA the IOAS does not map",
			  "no DMAR fault recorded for IOVA 0x%llx", (unsigned long long)target);
	else {
		ktap_info("iommu_fault", "%s", fault);
		pass(name);
	}
	if (map_pa)
		ioas_unmap(d->iommufd, d->ioas, target, VH_PAGE);
}

/* IOMMU_GET_HW_INFO names the IOMMU behind the device: Intel VT-d, QEMU's intel-iommu. */
void assert_iommu_hw_info(struct vdev *d)
{
	const char *name = VH_A_IOMMU_HW_INFO;
	uint32_t type = 0;
	int err;

	if (!step(name))
		return;
	err = iommu_get_hw_info(d->iommufd, d->devid, &type);
	ktap_info("hw_info_type", "%u", type);
	if (err || type != IOMMU_HW_INFO_TYPE_INTEL_VTD)
		fail_soft(name, "hw_info", -err, "IOMMU_GET_HW_INFO of type IOMMU_HW_INFO_TYPE_INTEL_VTD", "type %u", type);
	else
		pass(name);
}

/* A new memfd buffer mapped at iova with IOMMU_IOAS_MAP (so pinned by the kernel); *pin_before is VmPin before it. */
void assert_ioas_map_buffer(struct vdev *d, struct dmabuf *b, int pages, uint64_t iova, int by_iova, long *pin_before)
{
	int err;

	if (!step(VH_A_IOAS_MAP))
		return;
	*pin_before = observe_vmpin_kb();
	err = dmabuf_create(b, pages, iova);
	b->by_iova = by_iova;
	if (!err)
		err = ioas_map(d->iommufd, d->ioas, b->va, b->len, b->iova);
	if (err)
		fail_hard(VH_A_IOAS_MAP, "map", -err, "IOMMU_IOAS_MAP of a memfd-backed buffer", "%d pages failed", pages);
	else
		pass(VH_A_IOAS_MAP);
}

/* The control: the same push on a buffer nobody pinned must move it, or the pinned result says nothing. */
void assert_pressure_moves_unpinned(int pages)
{
	const char *name = VH_A_PRESSURE_MOVES_UNPINNED;
	struct dmabuf loose;
	struct vh_pressure pr;
	int err;

	if (!step(name))
		return;
	err = dmabuf_create(&loose, pages, 0);
	if (!err)
		err = observe_pressure(loose.va, loose.len, &pr);
	ktap_info("pressure_unpinned", "%s", err ? strerrorname_np(-err) : pr.text);
	if (err)
		fail_soft(name, "pressure", -err, "an unpinned memfd buffer of the same size to push on", "failed");
	else if (!pressure_applied(&pr) || pr.moved != pr.pages)
		fail_soft(name, "pressure", pr.first_err, "move_pages puts every unpinned page on the other node", "%u of %u pages moved (%s)", pr.moved,
			  pr.pages, pr.text);
	else
		pass(name);
	if (loose.va)
		munmap(loose.va, loose.len);
	if (loose.memfd > 0)
		close(loose.memfd);
}

/* The kernel's pin accounting, read by the observer: VmPin grew by exactly the buffer; *mapped is the reading. */
void assert_vmpin_grows(const struct dmabuf *b, long before, long *mapped)
{
	const char *name = VH_A_VMPIN_GROWS_BY_MAPPED_SIZE;

	if (!step(name))
		return;
	*mapped = observe_vmpin_kb();
	if (before < 0 || *mapped < 0)
		fail_soft(name, "map", (int)-(before < 0 ? before : *mapped), "the observer reads VmPin", "VmPin %ld before map, %ld mapped", before, *mapped);
	else if (*mapped - before != (long)(b->len / 1024))
		fail_soft(name, "map", 0, "VmPin grows by the mapped size", "VmPin %ld kB -> %ld kB for %llu kB mapped", before, *mapped,
			  (unsigned long long)b->len / 1024);
	else
		pass(name);
}
