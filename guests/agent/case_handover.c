/* The kexec cases: luo-dma-buffer, vfio-handover, only-vfio, kexec-chain, memfd-chain. Stage 1 drives the
 * device and preserves what it can with LUO; kexec_file_load carries vh.stage=N+1 to the next
 * kernel, which checks what crossed. The assertion order here is the contract with cases/. */
#include "driver.h"
#include "edu.h"
#include "irq_race.h"
#include "kmsg.h"
#include "ktap.h"
#include "luo.h"
#include "nvme_steps.h"
#include "sandbox.h"
#include "vfio.h"
#include "virtio.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#define IOVA 0x100000ull
#define STATE_MAGIC 0x56485354u
#define TOKEN_STATE 1
#define TOKEN_MEMFD 0x10
#define TOKEN_DEVICE 0x20
#define TOKEN_IOMMUFD 0x30
#define TOKEN_IRQ_RACE 0x40

struct flow {
	int dma;              /* edu: DMA over a LUO-preserved memfd */
	int preserve_device;  /* PRESERVE_FD of the vfio cdev fd */
	int preserve_iommufd; /* PRESERVE_FD of the iommufd */
	int native;           /* the device has an in-kernel driver (only-vfio) */
	int nvme;             /* the DMA engine is nvme, its queues in the memfd, instead of edu */
	uint32_t in_flight;   /* nvme reads left in flight across the kexec */
	int represerve;       /* lifecycle: preserve the retrieved device again before FINISH */
	int second_opener;    /* lifecycle: another open binds between retrieve and the owner's bind */
	int abandon;          /* lifecycle: nobody retrieves the device; its session is FINISHed with it running */
	int unbind;           /* lifecycle: another thread unbinds the retrieved device while its session is FINISHed */
	int kho_off;          /* lifecycle: the next kernel boots with kho=off, so it takes nothing over */
	int owner_crash;      /* lifecycle: the owner is SIGKILLed after preserving, before it kexecs */
	int irq_race;         /* lifecycle: another thread keeps calling SET_IRQS while the kernel freezes for the kexec */
	int pressure;         /* lifecycle: the retrieved memfd is pushed to another node before IOAS_MAP_FILE */
};

/* What the owner of lifecycle-owner-crash tells the process that outlives it, in memory both share. */
struct owner_report {
	int ready;          /* preserved, reads in flight: kill me */
	int32_t device_err; /* PRESERVE_FD of the device fd: its errno, 0 if preserved */
};

/* The other thread of lifecycle-unbind-finish: a sysfs unbind, which waits in VFIO until every file of the device is closed. */
struct unbinder {
	pid_t pid;
	char path[128];
	const char *bdf;
	int err, reqfd;
};

/* What one stage hands the next, in a LUO-preserved memfd of its own session. */
struct vh_state {
	uint32_t magic, stage, pages, witness;
	int32_t device_err, iommufd_err;
	uint64_t digest;
	struct nvme_cursor nvme;    /* where the driver was in its nvme queues */
	struct nvme_regs nvme_regs; /* the controller as the previous stage left it */
	uint64_t pa[VH_MAX_PAGES];
};

/* One stage of a kexec case: everything its steps share, made in run_flow (kselftest's FIXTURE). */
struct handover {
	const struct plan *p;
	const struct flow *f;
	struct vdev d;
	char early[64];           /* the device's driver before userspace touched anything */
	int check_driver_anyway;  /* vh.cheat=check-driver: check the binding of a device not preserved */
	struct dmabuf buf;        /* the DMA memfd: made in stage 1, retrieved after */
	struct nvme nvme;         /* the nvme flow's controller and queues */
	struct vh_state prev;     /* what the previous stage handed over */
	long pin_before;          /* VmPin before IOAS_MAP_FILE */
	int luofd;                /* /dev/liveupdate */
	int s_dma, s_state;       /* the sessions this stage preserves into */
	int in_dma, in_state;     /* the sessions this stage retrieved */
	int witness_written;      /* the reset witness is in the device, for the next stage's not_reset */
	uint64_t stray_pa;        /* vh.cheat=dma-stray: the unpreserved page a read in flight writes */
	struct unbinder unbind;   /* lifecycle-unbind-finish's unbind, in flight across FINISH */
};

static const char *errname(int err)
{
	const char *n = strerrorname_np(err < 0 ? -err : err);

	return n ? n : "?";
}

static void require_liveupdate(void)
{
	if (access("/dev/liveupdate", F_OK))
		lacks("kernel has no /dev/liveupdate (CONFIG_LIVEUPDATE, liveupdate=on)");
}

static void assert_ioas_map_file(struct handover *h)
{
	int err;

	if (!step(VH_A_IOAS_MAP_FILE))
		return;
	h->pin_before = observe_vmpin_kb();
	err = ioas_map_file(h->d.iommufd, h->d.ioas, h->buf.memfd, 0, h->buf.len, h->buf.iova);
	if (err)
		fail_hard(VH_A_IOAS_MAP_FILE, "map", -err, "IOMMU_IOAS_MAP_FILE of the memfd", "failed");
	else
		pass(VH_A_IOAS_MAP_FILE);
}

/* The kernel's pin accounting, read by the observer: exactly the buffer, nothing else. */
static void assert_vmpin_mapped(const struct handover *h)
{
	long now;

	if (!step(VH_A_VMPIN_EQUALS_MAPPED))
		return;
	now = observe_vmpin_kb();
	if (now - h->pin_before != (long)(h->buf.len / 1024))
		fail_soft(VH_A_VMPIN_EQUALS_MAPPED, "map", 0, "VmPin grows by the mapped size", "VmPin %ld kB -> %ld kB for %llu kB mapped",
			  h->pin_before, now, (unsigned long long)h->buf.len / 1024);
	else
		pass(VH_A_VMPIN_EQUALS_MAPPED);
}

static void assert_pa_unchanged(struct handover *h)
{
	const char *name = VH_A_PA_UNCHANGED_ACROSS_KEXEC;
	const struct vh_state *prev = &h->prev;
	struct dmabuf *buf = &h->buf;
	uint64_t bad = 0;
	uint32_t moved = 0, first = 0;
	int err;

	if (!step(name))
		return;
	err = get_pa_all(&h->d, buf, &bad);
	if (err) {
		fail_hard(name, "get_pa", err == -EBADMSG ? 0 : -err, "GET_PA answers for every page", "iova 0x%llx", (unsigned long long)bad);
		return;
	}
	for (uint32_t i = 0; i < prev->pages; i++)
		if (buf->pa[i] != prev->pa[i] && !moved++)
			first = i;
	ktap_info("pages_stayed_put", "%u/%u", prev->pages - moved, prev->pages);
	if (moved)
		fail_soft(name, "get_pa", 0, "the physical pages of the previous stage", "%u of %u pages moved; page %u: 0x%llx, was 0x%llx", moved,
			  prev->pages, first, (unsigned long long)buf->pa[first], (unsigned long long)prev->pa[first]);
	else
		pass(name);
}

/* Userspace brings the device back: what plain LUO (memfd only) allows. */
static void rebind_by_userspace(struct vdev *d, int iommu)
{
	assert_bound_to_vfio_pci(d);
	if (iommu)
		assert_iommu_cdev(d);
	else
		assert_noiommu_cdev(d);
	assert_bind_iommufd(d);
	assert_ioas_alloc(d);
	assert_attach_ioas(d);
}

/* State only a reset destroys, in a device that has it (virtio), for the next stage's not_reset. */
static void write_reset_witness(struct handover *h)
{
	int err = virtio_witness_write(h->d.devfd);

	h->witness_written = !err;
	if (err)
		ktap_info("warning", "could not write the reset witness: %s", errname(err));
}

/* A new memfd buffer mapped into the IOAS, pinned, and every page's physical address known. */
static void map_new_buffer(struct handover *h)
{
	if (dmabuf_create(&h->buf, h->p->pages, IOVA))
		fail_hard(VH_A_IOAS_MAP_FILE, "map", errno, "a memfd-backed buffer", "memfd failed");
	else
		assert_ioas_map_file(h);
	h->buf.by_iova = h->p->iommu;
	assert_vmpin_mapped(h);
	/* Behind an IOMMU the device is given IOVAs: physical addresses are not its business. */
	if (!h->p->iommu)
		assert_get_pa_every_page(&h->d, &h->buf);
}

static enum nvme_stray stray_of(const char *cheat)
{
	if (!strcmp(cheat, VH_CHEAT_DMA_UNPRESERVED))
		return NVME_STRAY_REFUSED;
	return strcmp(cheat, VH_CHEAT_DMA_STRAY) ? NVME_STRAY_NONE : NVME_STRAY_LANDS;
}

static void stage_first(struct handover *h)
{
	struct vdev *d = &h->d;

	if (h->f->native) {
		char drv[64] = "";

		pci_driver(d->bdf, drv, sizeof(drv));
		ktap_info("native_driver", "%s", drv[0] ? drv : "(none)");
	}
	rebind_by_userspace(d, h->p->iommu);
	if (!h->f->dma) {
		uint16_t cmd = 0;

		/* As a driver would before DMA: bus master on, for the next kernel to keep. */
		if (vfio_config_read16(d->devfd, PCI_COMMAND, &cmd) ||
		    vfio_config_write16(d->devfd, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER))
			ktap_info("warning", "could not set bus master");
		write_reset_witness(h);
		return;
	}
	if (h->f->nvme) {
		map_new_buffer(h);
		nvme_first_stage(d, &h->buf, &h->nvme);
		if (h->f->in_flight)
			h->stray_pa = nvme_issue_in_flight(d, &h->nvme, &h->buf, h->f->in_flight, stray_of(h->p->cheat));
		return;
	}
	assert_edu_bar0(d);
	map_new_buffer(h);
	assert_dma_roundtrip(d, &h->buf, VH_A_DMA_ROUNDTRIP_EVERY_PAGE, 0);
}

static int retrieve_state(struct handover *h)
{
	const char *name = VH_A_STATE_CROSSED_KEXEC;
	struct vh_state *st, *prev = &h->prev;
	int fd;

	if (!step(name))
		return -1;
	h->luofd = luo_open();
	h->in_state = h->luofd < 0 ? h->luofd : luo_retrieve_session(h->luofd, "vh-state");
	fd = h->in_state < 0 ? h->in_state : luo_retrieve(h->in_state, TOKEN_STATE);
	if (fd < 0) {
		fail_hard(name, "retrieve", -fd, "RETRIEVE_SESSION(vh-state) and RETRIEVE_FD of the state memfd", "failed");
		return -1;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ, MAP_SHARED, fd, 0);
	if (st == MAP_FAILED) {
		fail_hard(name, "retrieve", errno, "the state memfd maps", "mmap failed");
		return -1;
	}
	*prev = *st;
	munmap(st, sizeof(*st));
	close(fd);
	if (prev->magic != STATE_MAGIC || (int)prev->stage != h->p->stage - 1) {
		fail_hard(name, "retrieve", 0, "state written by the previous stage", "magic 0x%x stage %u, this is stage %d", prev->magic, prev->stage,
			  h->p->stage);
		return -1;
	}
	pass(name);
	if (prev->device_err)
		lacks_cap(VH_CLAIM_VFIO_PRESERVE, "LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned %s in stage %u", errname(prev->device_err),
			  prev->stage);
	if (prev->iommufd_err)
		lacks_cap(VH_CLAIM_IOMMUFD_PRESERVE, "LIVEUPDATE_SESSION_PRESERVE_FD of the iommufd returned %s in stage %u", errname(prev->iommufd_err),
			  prev->stage);
	return 0;
}

/* PCI_COMMAND as the kernel left it, read through sysfs before anything opens the device. */
static int sysfs_command(const char *bdf, uint16_t *cmd)
{
	char path[128];
	unsigned char b[2];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, b, sizeof(b), PCI_COMMAND);
	close(fd);
	if (n != (ssize_t)sizeof(b))
		return n < 0 ? -errno : -EIO;
	*cmd = (uint16_t)(b[0] | b[1] << 8);
	return 0;
}

/* The memfd's digest, less the pages reads in flight across the kexec may still be writing. */
static uint64_t digest_of(const struct handover *h)
{
	return dmabuf_digest_except(&h->buf, h->f->in_flight ? nvme_in_flight_pages(h->f->in_flight) : 0);
}

static void retrieve_buffer(struct handover *h)
{
	int fd;

	if (step(VH_A_LUO_RETRIEVE_MEMFD)) {
		h->in_dma = luo_retrieve_session(h->luofd, "vh-dma");
		fd = h->in_dma < 0 ? h->in_dma : luo_retrieve(h->in_dma, TOKEN_MEMFD);
		if (fd >= 0)
			fd = dmabuf_adopt(&h->buf, fd, (int)h->prev.pages, IOVA) ?: fd;
		h->buf.by_iova = h->p->iommu;
		if (fd < 0)
			fail_hard(VH_A_LUO_RETRIEVE_MEMFD, "retrieve", -fd, "RETRIEVE_SESSION(vh-dma) and RETRIEVE_FD of the DMA memfd", "failed");
		else
			pass(VH_A_LUO_RETRIEVE_MEMFD);
	}
	if (step(VH_A_MEMFD_BYTES_IDENTICAL)) {
		uint64_t digest = digest_of(h);

		if (digest != h->prev.digest)
			fail_soft(VH_A_MEMFD_BYTES_IDENTICAL, "retrieve", 0, "the digest of the previous stage's bytes", "0x%016llx, was 0x%016llx",
				  (unsigned long long)digest, (unsigned long long)h->prev.digest);
		else
			pass(VH_A_MEMFD_BYTES_IDENTICAL);
	}
	/* An abandoned device's reads are the probe of what lands after FINISH: not waited for here. */
	if (h->f->in_flight && !h->f->abandon) {
		uint16_t cmd;

		assert_in_flight_targets(&h->buf, &h->prev.nvme, h->f->in_flight, h->prev.pa, h->prev.pages);
		assert_in_flight_landed(&h->nvme, &h->buf, &h->prev.nvme, h->f->in_flight, sysfs_command(h->d.bdf, &cmd) ? -1 : cmd);
	}
}

static void assert_driver_before_userspace(const struct handover *h)
{
	const char *name = VH_A_DEVICE_DRIVER_BEFORE_USERSPACE, *early = h->early;

	if (!(h->check_driver_anyway ? step(name) : step_cap(name, VH_CLAIM_VFIO_PRESERVE)))
		return;
	/* The previous stage preserved the device fd: this kernel claims it, so only vfio-pci will do. */
	if (!h->prev.device_err && strcmp(early, "vfio-pci"))
		fail_soft(name, "boot", 0, "vfio-pci: the previous stage preserved the device fd", "%s%s", early[0] ? "bound to " : "no driver", early);
	else if (early[0] && strcmp(early, "vfio-pci"))
		fail_soft(name, "boot", 0, "vfio-pci or no driver", "bound to %s", early);
	else
		pass(name);
}

/* The driver core's record of every probe (initcall_debug) and every driver's messages about the device. */
static void assert_native_never_probed(const struct handover *h)
{
	const char *name = VH_A_NATIVE_DRIVER_NEVER_PROBED, *early = h->early;
	struct device_record r;
	int err;

	if (!h->f->native || !step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	err = kmsg_device_record(h->d.bdf, "vfio-pci", &r);
	if (early[0] && strcmp(early, "vfio-pci"))
		fail_soft(name, "boot", 0, "no driver but vfio-pci ever bound", "%s bound", early);
	else if (err)
		fail_soft(name, "boot", -err, "this boot's log readable from /dev/kmsg", "failed");
	else if (r.others)
		fail_soft(name, "boot", 0, "no probe of the device by, and no message from, any driver but vfio-pci", "%d records; first: %s", r.others,
			  r.first_other);
	else if (r.lost)
		fail_soft(name, "boot", 0, "this boot's whole log (log_buf_len)", "records were overwritten before they were read");
	else if (!r.owner_probes)
		fail_soft(name, "boot", 0, "the driver core's record of vfio-pci probing the device (initcall_debug)", "no probe of %s recorded: the witness is blind",
			  h->d.bdf);
	else
		pass(name);
}

static void assert_bus_master_before_open(const struct handover *h)
{
	const char *name = VH_A_BUS_MASTER_BEFORE_OPEN;
	uint16_t cmd = 0;
	int err;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	err = sysfs_command(h->d.bdf, &cmd);
	if (err)
		fail_soft(name, "boot", -err, "PCI_COMMAND readable through sysfs", "failed");
	else if (!(cmd & PCI_COMMAND_MASTER))
		fail_soft(name, "boot", 0, "bus master still set from the previous kernel before anything opened the device", "PCI_COMMAND 0x%04x", cmd);
	else
		pass(name);
}

/* What the kernel did with a preserved device before userspace acts: who binds it, whether it still masters. */
static void driver_before_userspace(const struct handover *h)
{
	assert_driver_before_userspace(h);
	assert_native_never_probed(h);
	assert_bus_master_before_open(h);
}

/* Before RETRIEVE_FD, a plain open of the cdev must not be able to take the device. */
/* A plain open of the cdev, by anyone but the LUO owner, must not bind the device: name is the assertion it stands for. */
static void other_opener_refused(const struct vdev *d, const char *name)
{
	char cdev[64], path[128];
	uint32_t devid;
	int fd, ifd, err;

	if (!step(name))
		return;
	err = vfio_cdev_name(d->bdf, cdev, sizeof(cdev));
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	fd = err ? err : open(path, O_RDWR | O_CLOEXEC);
	/* Refused at open (upstream's EBUSY until RETRIEVE_FD) is as good as refused at bind. */
	if (fd < 0 && fd != err && errno == EBUSY) {
		pass(name);
		return;
	}
	if (fd < 0) {
		fail_soft(name, "retrieve", fd == err ? -err : errno, "the device's cdev opens", "failed");
		return;
	}
	ifd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	err = ifd < 0 ? -errno : vfio_bind_iommufd(fd, ifd, &devid);
	if (ifd >= 0)
		close(ifd);
	close(fd);
	if (err != -EBUSY)
		fail_soft(name, "retrieve", -err, "VFIO_DEVICE_BIND_IOMMUFD on a fresh open of the cdev refused with EBUSY", "%s",
			  err ? errname(err) : "bound");
	else
		pass(name);
}

/* A kernel that leaves binding to userspace (upstream's documented protocol: driver_override, then RETRIEVE_FD)
 * finds the device unbound or with its native driver; vfio-reserve already said so, vfio-preserve goes on. */
static void bind_as_documented(const struct vdev *d)
{
	char drv[64] = "";
	int err;

	pci_driver(d->bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		return;
	err = pci_bind_vfio(d->bdf);
	ktap_info("binding", "userspace bound vfio-pci (the device was %s%s)%s%s", drv[0] ? "with " : "unbound", drv, err ? ": " : "",
		  err ? errname(err) : "");
}

static void retrieve_device_fd(struct handover *h)
{
	int fd;

	if (!step(VH_A_RETRIEVE_DEVICE_FD))
		return;
	if (h->in_dma < 0)
		h->in_dma = luo_retrieve_session(h->luofd, "vh-dma");
	fd = h->in_dma < 0 ? h->in_dma : luo_retrieve(h->in_dma, TOKEN_DEVICE);
	if (fd < 0) {
		fail_hard(VH_A_RETRIEVE_DEVICE_FD, "retrieve", -fd, "RETRIEVE_FD of the vfio cdev fd", "failed");
		return;
	}
	h->d.devfd = fd;
	pass(VH_A_RETRIEVE_DEVICE_FD);
}

static void retrieve_iommufd(const struct handover *h)
{
	int fd;

	if (!h->f->preserve_iommufd || !step_cap(VH_A_RETRIEVE_IOMMUFD, VH_CLAIM_IOMMUFD_PRESERVE))
		return;
	fd = luo_retrieve(h->in_dma, TOKEN_IOMMUFD);
	if (fd < 0)
		fail_soft(VH_A_RETRIEVE_IOMMUFD, "retrieve", -fd, "RETRIEVE_FD of the iommufd", "failed");
	else
		pass(VH_A_RETRIEVE_IOMMUFD);
}

static void assert_bus_master_kept(const struct vdev *d)
{
	uint16_t cmd = 0;
	int err;

	if (!step(VH_A_BUS_MASTER_KEPT))
		return;
	err = vfio_config_read16(d->devfd, PCI_COMMAND, &cmd);
	if (err || !(cmd & PCI_COMMAND_MASTER))
		fail_soft(VH_A_BUS_MASTER_KEPT, "retrieve", -err, "PCI_COMMAND bus master still set", "PCI_COMMAND 0x%04x", cmd);
	else
		pass(VH_A_BUS_MASTER_KEPT);
}

/* The witness the previous stage wrote into the device's registers, read after the first open: any reset clears it. */
static void assert_not_reset(const struct handover *h)
{
	struct virtio_witness w = { 0 };
	char seen[128], expected[160];
	int err;

	if (!step(VH_A_NOT_RESET))
		return;
	if (!h->prev.witness) {
		fail_soft(VH_A_NOT_RESET, "retrieve", 0, "a reset witness written by the previous stage", "stage %u could not write it", h->prev.stage);
		return;
	}
	err = virtio_witness_read(h->d.devfd, &w);
	virtio_witness_describe(&w, seen, sizeof(seen));
	virtio_witness_describe(&virtio_witness_written, expected, sizeof(expected) - 40);
	strcat(expected, ", as the previous stage wrote them");
	if (err)
		fail_soft(VH_A_NOT_RESET, "retrieve", -err, "the virtio common configuration readable through VFIO", "%s", seen);
	else if (!virtio_witness_intact(&w))
		fail_soft(VH_A_NOT_RESET, "retrieve", 0, expected, "%s", seen);
	else
		pass(VH_A_NOT_RESET);
}

/* edu's BAR0 again, through the retrieved fd, for the DMA that resumes. */
static void map_edu_bar(struct vdev *d)
{
	int err;

	d->bar = vfio_map_bar(d->devfd, 0, &d->bar_size, &err);
	if (!d->bar)
		ktap_info("warning", "BAR0 does not map: %s", errname(err));
}

/* Between retrieve and IOAS_MAP_FILE nothing pins the memfd but what LUO keeps: compaction and move_pages of every
 * page to another node must move none, or the device (kept running) DMAs into pages that are no longer the memfd's. */
static void assert_retrieved_pages_stay_put(const struct handover *h)
{
	const char *name = VH_A_RETRIEVED_PAGES_STAY_PUT;
	struct vh_pressure pr;
	int err;

	if (!step(name))
		return;
	err = observe_pressure(h->buf.va, h->buf.len, &pr);
	ktap_info("pressure_before_map", "%s", pr.text);
	if (err)
		fail_soft(name, "pressure", -err, "the observer pushes on the retrieved memfd", "failed");
	else if (pr.moved)
		fail_soft(name, "pressure", 0, "no retrieved page migrates before IOMMU_IOAS_MAP_FILE pins it",
			  "%u of %u pages moved to node%d (%s)", pr.moved, pr.pages, pr.target, pr.text);
	else if (!pressure_applied(&pr))
		fail_soft(name, "pressure", pr.first_err, "move_pages tried every retrieved page on another node",
			  "no pressure applied to %u of %u pages (%s)", pr.pages - pr.held, pr.pages, pr.text);
	else
		pass(name);
}

/* The retrieved memfd mapped again: the same physical pages, DMA into them, and on the last stage unmapped. */
static void resume_dma(struct handover *h)
{
	if (h->f->pressure) {
		assert_pressure_moves_unpinned((int)h->prev.pages);
		assert_retrieved_pages_stay_put(h);
	}
	assert_ioas_map_file(h);
	assert_vmpin_mapped(h);
	if (!h->p->iommu)
		assert_pa_unchanged(h);
	if (h->f->nvme)
		assert_nvme_io_resumes(&h->d, &h->buf, &h->nvme, &h->prev.nvme, h->p->stage == h->p->stages);
	else
		assert_dma_roundtrip(&h->d, &h->buf, VH_A_DMA_RESUMES, 0);
	if (h->p->stage == h->p->stages)
		assert_unmap_restores(&h->d, &h->buf, h->pin_before, NULL);
}

/* The device fd the previous stage preserved, taken back from LUO instead of bound again. */
static void retrieve_device(struct handover *h)
{
	scope_cap(VH_CLAIM_VFIO_PRESERVE);
	if (!lacking_cap(VH_CLAIM_VFIO_PRESERVE))
		bind_as_documented(&h->d);
	other_opener_refused(&h->d, VH_A_BIND_BEFORE_RETRIEVE_REFUSED);
	retrieve_device_fd(h);
	retrieve_iommufd(h);
	/* Between RETRIEVE_FD and the owner's bind: the no-reset first open is the owner's, not a second opener's. */
	if (h->f->second_opener)
		other_opener_refused(&h->d, VH_A_SECOND_OPENER_REFUSED);
	assert_bind_iommufd(&h->d);
	assert_bus_master_kept(&h->d);
	if (h->f->native)
		assert_not_reset(h);
	else if (h->f->nvme)
		assert_nvme_not_reset(&h->d, &h->nvme, &h->prev.nvme_regs);
	else if (h->f->dma && h->d.devfd >= 0)
		map_edu_bar(&h->d);
	assert_ioas_alloc(&h->d);
	assert_attach_ioas(&h->d);
	if (h->f->dma)
		resume_dma(h);
	scope_cap(NULL);
}

/* A device handed over is INCOMING until its session is finished: preserving it again before that would give the
 * next kernel a device this one never took over (and LUO WARNs in xa_insert on the later retrieve). */
static void assert_represerve_refused(const struct handover *h)
{
	const char *name = VH_A_REPRESERVE_INCOMING_REFUSED;
	int s, err;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	s = luo_create_session(h->luofd, "vh-again");
	if (s < 0) {
		fail_soft(name, "preserve", -s, "CREATE_SESSION vh-again", "failed");
		return;
	}
	err = luo_preserve(s, h->d.devfd, TOKEN_DEVICE);
	/* Closing the outgoing session unpreserves whatever it accepted: this kernel kexecs nowhere. */
	close(s);
	if (!err)
		fail_soft(name, "preserve", 0, "PRESERVE_FD of the retrieved device before FINISH refused with an errno", "accepted");
	else {
		ktap_info("represerve_errno", "%s", errname(err));
		pass(name);
	}
}

#define ABANDON_WATCH_MS 8000 /* after FINISH: past when the throttled drive (2 reads a second) serves every read still queued */

/* FINISH refused is one right answer; completed, the kernel must have stopped the device it was left with. */
static void assert_abandoned_quiesced(const struct handover *h, int finish_err)
{
	const char *name = VH_A_ABANDONED_DEVICE_QUIESCED;
	uint16_t cmd = 0;
	int err;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	if (finish_err) {
		ktap_info("abandoned_finish_errno", "%s", errname(finish_err));
		pass(name);
		return;
	}
	/* Through sysfs, as root: the device's own register, not anything the vfio file says. */
	err = sysfs_command(h->d.bdf, &cmd);
	if (err)
		fail_soft(name, "finish", -err, "PCI_COMMAND readable through sysfs", "failed");
	else if (cmd & PCI_COMMAND_MASTER)
		fail_soft(name, "finish", 0, "FINISH refused while the device is unretrieved, or bus master off once it completed",
			  "FINISH completed, PCI_COMMAND 0x%04x", cmd);
	else
		pass(name);
}

/* The reads stage 1 left queued and still pending at FINISH may land while FINISH stops the device, never after it. */
static void assert_no_dma_after_finish(struct handover *h, int finish_err, uint32_t before, uint32_t after)
{
	const char *name = VH_A_NO_DMA_AFTER_FINISH;
	uint32_t count = h->f->in_flight, now, landed, waiting = (uint32_t)__builtin_popcount(before);
	uint32_t left = (uint32_t)__builtin_popcount(after);

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	landed = nvme_in_flight_landed(&h->buf, count);
	ktap_info("in_flight_pending_at_finish", "%u/%u", waiting, count);
	ktap_info("in_flight_landed_during_finish", "%u/%u", waiting - left, waiting);
	/* Every target written before FINISH: nothing is left that could land after it. */
	if (!waiting) {
		fail_soft(name, "finish", 0, "reads queued by the previous kernel still pending at FINISH", "none of %u: %u landed, %u torn; the probe is blind",
			  count, landed, count - landed);
		return;
	}
	nap_ms(ABANDON_WATCH_MS);
	now = nvme_in_flight_untouched(&h->buf, count);
	landed = (uint32_t)__builtin_popcount(after & ~now);
	ktap_info("in_flight_landed_after_finish", "%u/%u", landed, left);
	if (landed)
		fail_soft(name, "finish", 0, "no read pending at FINISH lands after it returned (or after the close, FINISH refused)",
			  "%u of the %u still pending landed in the memfd within %d ms after %s", landed, left, ABANDON_WATCH_MS,
			  finish_err ? "the close" : "FINISH");
	else
		pass(name);
}

/* Nobody retrieves the device: the session that holds it is FINISHed with the device still running. */
static void abandon_device(struct handover *h)
{
	uint32_t before = h->buf.va ? nvme_in_flight_untouched(&h->buf, h->f->in_flight) : 0, after;
	int err = h->in_dma < 0 ? -EBADF : luo_finish(h->in_dma);

	assert_abandoned_quiesced(h, err);
	/* Refused, the owner gives up on the session instead: its close must leave the device as quiet as FINISH. */
	if (h->in_dma >= 0)
		close(h->in_dma);
	h->in_dma = -1;
	after = h->buf.va ? nvme_in_flight_untouched(&h->buf, h->f->in_flight) : 0;
	assert_no_dma_after_finish(h, err, before, after);
}

#define UNBIND_WAIT_MS 10000 /* for the unbind to reach VFIO, and to return once the owner closed the device */
#define UNBIND_STACK (64 * 1024)

static int unbind_task(void *arg)
{
	struct unbinder *u = arg;

	u->err = write_file(u->path, u->bdf);
	return 0;
}

/* Memory and fd table shared, not copied: a copy would hold the device's file (BAR mapping, fd) and keep the unbind
 * waiting for itself. Not pthread_create: it mprotects a guard page, which the sandbox refuses. */
static int start_unbind_task(struct unbinder *u)
{
	void *stack = mmap(NULL, UNBIND_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

	if (stack == MAP_FAILED)
		return -errno;
	u->pid = clone(unbind_task, (char *)stack + UNBIND_STACK, CLONE_VM | CLONE_FILES | CLONE_FS | SIGCHLD, u);
	return u->pid < 0 ? -errno : 0;
}

/* Waits up to ms for the unbind task to exit: 0, or -ETIMEDOUT while it is still blocked. */
static int join_unbind_task(const struct unbinder *u, int ms)
{
	uint64_t t0 = now_ms();
	int st;

	while (waitpid(u->pid, &st, WNOHANG) == 0) {
		if (now_ms() - t0 >= (uint64_t)ms)
			return -ETIMEDOUT;
		nap_ms(20);
	}
	return 0;
}

/* Another thread unbinds the retrieved device: VFIO's request eventfd says the unbind holds it and waits for its file. */
static void start_unbind(struct handover *h)
{
	const char *name = VH_A_UNBIND_IN_PROGRESS;
	struct unbinder *u = &h->unbind;
	struct pollfd pfd;
	int n;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	u->reqfd = vfio_req_eventfd(h->d.devfd);
	if (u->reqfd < 0) {
		fail_soft(name, "unbind", -u->reqfd, "VFIO_DEVICE_SET_IRQS of the device request eventfd", "failed");
		return;
	}
	snprintf(u->path, sizeof(u->path), "/sys/bus/pci/devices/%s/driver/unbind", h->d.bdf);
	u->bdf = h->d.bdf;
	n = start_unbind_task(u);
	if (n) {
		fail_soft(name, "unbind", -n, "a task for the unbind", "clone failed");
		return;
	}
	pfd = (struct pollfd){ .fd = u->reqfd, .events = POLLIN };
	n = poll(&pfd, 1, UNBIND_WAIT_MS);
	if (n == 1)
		pass(name);
	else
		fail_soft(name, "unbind", n < 0 ? errno : 0, "the unbind reaches VFIO, which asks for the device back (its request eventfd) within 10 s",
			  "no request%s%s", u->err ? "; the unbind returned " : "", u->err ? errname(u->err) : "");
}

/* The owner lets the device go: the BAR mapping and the two fds are the last references to its file. */
static void release_device(struct vdev *d)
{
	if (d->bar)
		munmap((void *)d->bar, d->bar_size);
	d->bar = NULL;
	if (d->devfd >= 0)
		close(d->devfd);
	if (d->iommufd >= 0)
		close(d->iommufd);
	d->devfd = d->iommufd = -1;
}

/* After FINISH, with the owner's device closed, the unbind that waited for it returns and the device has no driver. */
static void assert_unbind_completes(struct handover *h)
{
	const char *name = VH_A_UNBIND_COMPLETES;
	struct unbinder *u = &h->unbind;
	char drv[64] = "";
	int err;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	if (u->pid <= 0) {
		fail_soft(name, "unbind", 0, "an unbind in progress across FINISH", "none was started");
		return;
	}
	release_device(&h->d);
	err = join_unbind_task(u, UNBIND_WAIT_MS);
	if (err) {
		fail_soft(name, "unbind", -err, "the unbind returns once the owner closed the device", "still blocked %d ms after the close", UNBIND_WAIT_MS);
		return;
	}
	err = pci_driver(h->d.bdf, drv, sizeof(drv));
	if (u->err || err || drv[0])
		fail_soft(name, "unbind", -(u->err ?: err), "the unbind succeeds and leaves the device without a driver", "unbind %s, driver %s",
			  u->err ? errname(u->err) : "returned 0", drv[0] ? drv : "(none)");
	else
		pass(name);
}

/* The racer's log, as the CPUs left it: from its first refusal on, every SET_IRQS refused, and one was. */
static void assert_irqs_refused_after_freeze(const struct handover *h)
{
	const char *name = VH_A_SET_IRQS_REFUSED_AFTER_FREEZE;
	struct irq_race_verdict v;
	struct irq_race_log *log;
	int fd;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	fd = luo_retrieve(h->in_state, TOKEN_IRQ_RACE);
	log = fd < 0 ? MAP_FAILED : mmap(NULL, sizeof(*log), PROT_READ, MAP_SHARED, fd, 0);
	if (log == MAP_FAILED) {
		fail_hard(name, "retrieve", fd < 0 ? -fd : errno, "the race log retrieved and mapped", "failed");
		return;
	}
	irq_race_judge(log, &v);
	munmap(log, sizeof(*log));
	close(fd);
	/* The race did not happen: no verdict either way, so the stage is broken, not failed. */
	if (!v.ran)
		ktap_bail("%s: %s", name, v.text);
	else if (v.ok) {
		ktap_info("irq_race", "%s", v.text);
		pass(name);
	} else {
		fail_soft(name, "kexec", 0, "VFIO_DEVICE_SET_IRQS refused once the device is frozen for the kexec", "%s", v.text);
	}
}

/* The next kernel takes nothing over (kho=off): whatever the previous kernel left running is nobody's. */
static void assert_unclaimed_device_stopped(const struct handover *h)
{
	const char *name = VH_A_UNCLAIMED_DEVICE_STOPPED;
	int luo = !access("/dev/liveupdate", F_OK);
	const char *lacked = strstr(h->p->cmdline, VH_KEY_LACKS "=");
	char errno_name[32] = "";
	uint16_t cmd = 0;
	int err;

	if (lacked)
		sscanf(lacked + strlen(VH_KEY_LACKS "="), "%31[A-Z0-9]", errno_name);
	lacked = lacked ? errno_name : NULL;

	/* What was lost, as this kernel shows it: no live update, so no session and no device fd to retrieve. */
	ktap_info("liveupdate", "%s", luo ? "/dev/liveupdate present" : "no /dev/liveupdate: every session, the memfd and the device fd lost");
	/* No state crosses into this kernel: the previous stage said on the command line when it could not preserve the device. */
	if (lacked)
		lacks_cap(VH_CLAIM_VFIO_PRESERVE, "LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned %s in stage %d", lacked, h->p->stage - 1);
	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	err = sysfs_command(h->d.bdf, &cmd);
	if (luo)
		fail_soft(name, "boot", 0, "a kernel booted with kho=off, which takes nothing over", "/dev/liveupdate present");
	else if (err)
		fail_soft(name, "boot", -err, "PCI_COMMAND readable through sysfs", "failed");
	else if (cmd & PCI_COMMAND_MASTER)
		fail_soft(name, "boot", 0, "no bus master left on by the previous kernel in a kernel that took nothing over", "PCI_COMMAND 0x%04x, driver %s", cmd,
			  h->early[0] ? h->early : "(none)");
	else
		pass(name);
}

static void stage_next(struct handover *h)
{
	require_liveupdate();
	retrieve_state(h);
	if (h->f->preserve_device)
		driver_before_userspace(h);
	if (h->f->dma)
		retrieve_buffer(h);
	if (h->f->abandon) {
		abandon_device(h);
		return;
	}
	if (h->f->preserve_device) {
		retrieve_device(h);
		if (h->f->represerve)
			assert_represerve_refused(h);
		if (h->f->unbind)
			start_unbind(h);
		return;
	}
	rebind_by_userspace(&h->d, h->p->iommu);
	if (h->f->dma) {
		assert_edu_bar0(&h->d);
		resume_dma(h);
	}
}

static void finish_incoming(struct handover *h)
{
	int err = 0;

	if (!step(VH_A_LUO_FINISH))
		return;
	if (h->in_dma >= 0)
		err = luo_finish(h->in_dma);
	if (!err)
		err = luo_finish(h->in_state);
	if (err)
		fail_soft(VH_A_LUO_FINISH, "finish", -err, "LIVEUPDATE_SESSION_FINISH succeeds", "failed");
	else
		pass(VH_A_LUO_FINISH);
	if (h->in_dma >= 0)
		close(h->in_dma);
	close(h->in_state);
	h->in_dma = h->in_state = -1;
}

static int preserve_optional(const struct handover *h, const char *name, const char *cap, int fd, uint64_t token, int32_t *err_out)
{
	int err;

	/* An earlier stage already found the kernel cannot: say so again, and tell the next stage. */
	if (lacking_cap(cap)) {
		*err_out = !strcmp(cap, VH_CLAIM_VFIO_PRESERVE) ? h->prev.device_err : h->prev.iommufd_err;
		if (!*err_out)
			*err_out = ENOENT;
	}
	if (!step_cap(name, cap))
		return -1;
	/* Negative control: the device is not preserved, yet its binding is checked after kexec. */
	if (h->check_driver_anyway && token == TOKEN_DEVICE) {
		*err_out = ENOENT;
		lacks_cap(cap, "not preserved on purpose (" VH_KEY_CHEAT "=" VH_CHEAT_CHECK_DRIVER ")");
		step_cap(name, cap);
		return -1;
	}
	err = luo_preserve(h->s_dma, fd, token);
	/* ENOENT: no LUO handler for this file type; the kernel does not claim the capability. */
	if (err == -ENOENT || err == -EOPNOTSUPP) {
		*err_out = -err;
		lacks_cap(cap, "LIVEUPDATE_SESSION_PRESERVE_FD of the %s returned %s", !strcmp(cap, VH_CLAIM_VFIO_PRESERVE) ? "vfio cdev fd" : "iommufd",
			  errname(err));
		step_cap(name, cap);
		return -1;
	}
	if (err) {
		*err_out = -err;
		fail_soft(name, "preserve", -err, "PRESERVE_FD succeeds", "failed");
		return -1;
	}
	pass(name);
	return 0;
}

/* The next kernel's command line: ours, the next stage, and for kho=off (which takes no state over) what this stage lacked. */
static void next_cmdline(const struct plan *p, int kho_off, int32_t device_err, char *out, size_t cap)
{
	size_t o = 0;
	char copy[sizeof(p->cmdline)];

	snprintf(copy, sizeof(copy), "%s", p->cmdline);
	for (char *tok = strtok(copy, " \n"); tok; tok = strtok(NULL, " \n"))
		if (strncmp(tok, VH_KEY_STAGE "=", strlen(VH_KEY_STAGE "=")))
			o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s ", tok);
	o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, VH_KEY_STAGE "=%d", p->stage + 1);
	if (kho_off && device_err)
		o += (size_t)snprintf(out + o, o < cap ? cap - o : 0, " " VH_KEY_LACKS "=%s", errname(device_err));
	/* kho=off after ours: the next kernel ignores the hand-over (lifecycle-kho-off). */
	if (kho_off)
		snprintf(out + o, o < cap ? cap - o : 0, " kho=off");
}

/* What the next stage checks against: the buffer's bytes and physical pages (and, later, what this kernel refused). */
static void state_for_next(const struct handover *h, struct vh_state *st)
{
	memset(st, 0, sizeof(*st));
	st->magic = STATE_MAGIC;
	st->stage = (uint32_t)h->p->stage;
	st->pages = (uint32_t)(h->buf.len / VH_PAGE);
	if (h->f->dma)
		st->digest = digest_of(h);
	if (h->f->nvme) {
		nvme_save(&h->nvme, &st->nvme);
		nvme_read_regs(&h->nvme, &st->nvme_regs);
	}
	memcpy(st->pa, h->buf.pa, sizeof(st->pa));
}

static void create_sessions(struct handover *h)
{
	if (!step(VH_A_LUO_CREATE_SESSION))
		return;
	if (h->luofd < 0)
		h->luofd = luo_open();
	h->s_dma = h->luofd < 0 ? h->luofd : luo_create_session(h->luofd, "vh-dma");
	h->s_state = h->s_dma < 0 ? h->s_dma : luo_create_session(h->luofd, "vh-state");
	if (h->s_state < 0)
		fail_hard(VH_A_LUO_CREATE_SESSION, "preserve", -h->s_state, "CREATE_SESSION vh-dma and vh-state", "failed");
	else
		pass(VH_A_LUO_CREATE_SESSION);
}

static void preserve_memfd(const struct handover *h)
{
	int err;

	if (!step(VH_A_LUO_PRESERVE_MEMFD))
		return;
	err = luo_preserve(h->s_dma, h->buf.memfd, TOKEN_MEMFD);
	if (err)
		fail_hard(VH_A_LUO_PRESERVE_MEMFD, "preserve", -err, "PRESERVE_FD of the DMA memfd", "failed");
	else
		pass(VH_A_LUO_PRESERVE_MEMFD);
}

/* Negative control: interrupts left on, which the kernel must refuse to hand over. */
static void cheat_irq_on(const struct vdev *d)
{
	uint32_t irq;
	int err = vfio_irq_enable(d->devfd, &irq);

	if (err)
		ktap_info("cheat", "could not enable interrupts: %s", errname(err));
	else
		ktap_info("cheat", "interrupts left enabled (%s)", irq == VFIO_PCI_MSI_IRQ_INDEX ? "MSI" : "INTx");
}

/* The device fd into the session; the next stage learns whether the reset witness is in the device. */
static void preserve_device(const struct handover *h, struct vh_state *st)
{
	const struct vdev *d = &h->d;

	st->witness = (uint32_t)h->witness_written;
	if (!strcmp(h->p->cheat, VH_CHEAT_IRQ_ON))
		cheat_irq_on(d);
	preserve_optional(h, VH_A_PRESERVE_DEVICE_FD, VH_CLAIM_VFIO_PRESERVE, d->devfd, TOKEN_DEVICE, &st->device_err);
}

static void preserve_state(const struct handover *h, const struct vh_state *st)
{
	int err, sfd;

	if (!step(VH_A_LUO_PRESERVE_STATE))
		return;
	sfd = memfd_create("vh-state", MFD_CLOEXEC);
	err = sfd < 0 ? -errno : 0;
	if (!err && write(sfd, st, sizeof(*st)) != (ssize_t)sizeof(*st))
		err = -EIO;
	if (!err)
		err = luo_preserve(h->s_state, sfd, TOKEN_STATE);
	if (err)
		fail_hard(VH_A_LUO_PRESERVE_STATE, "preserve", -err, "PRESERVE_FD of the state memfd", "failed");
	else
		pass(VH_A_LUO_PRESERVE_STATE);
}

/* keep_off: a page the next kernel must never use (0: none), reserved with memmap= so a stray write there harms nothing. */
static void load_next_kernel(const struct plan *p, uint64_t keep_off, int kho_off, int32_t device_err)
{
	char cmdline[sizeof(p->cmdline) + 64];
	uint64_t t0;
	int err;

	if (!step(VH_A_KEXEC_FILE_LOAD))
		return;
	t0 = now_ms();
	next_cmdline(p, kho_off, device_err, cmdline, sizeof(cmdline));
	if (keep_off)
		snprintf(cmdline + strlen(cmdline), sizeof(cmdline) - strlen(cmdline), " memmap=4K$0x%llx", (unsigned long long)keep_off);
	err = kexec_load_next(p->next, cmdline);
	if (err) {
		fail_hard(VH_A_KEXEC_FILE_LOAD, "kexec", -err, "kexec_file_load of /kernel and the retained initramfs", "failed");
		return;
	}
	ktap_info("kexec_file_load_ms", "%llu", (unsigned long long)(now_ms() - t0));
	ktap_info("kexec_image", "%s", p->next);
	pass(VH_A_KEXEC_FILE_LOAD);
}

/* lifecycle-kho-off: the kernel refused the kexec before freezing anything, so the owner still drives its device. */
static void assert_device_kept(struct handover *h)
{
	const char *name = VH_A_DEVICE_KEPT_AFTER_REFUSED_KEXEC;
	uint16_t cmd = 0;
	int err;

	if (!step(name))
		return;
	err = vfio_config_read16(h->d.devfd, PCI_COMMAND, &cmd);
	if (err)
		fail_soft(name, "kexec", -err, "PCI_COMMAND readable through the device fd", "failed");
	else if (!(cmd & PCI_COMMAND_MASTER))
		fail_soft(name, "kexec", 0, "bus master still on after the refused kexec", "PCI_COMMAND 0x%04x", cmd);
	else if (!dma_roundtrip_pages(&h->d, &h->buf, name, 0))
		pass(name);
}

/* The session fds stay open in this process until the reboot syscall itself. */
static void kexec_into_next(struct handover *h)
{
	int err;

	/* Where a refused kexec is an outcome (kho_off), the stage goes on after it: its plan follows what it checks then. */
	if (!h->f->kho_off)
		ktap_trailing_plan();
	ktap_info(VH_INFO_AGENT, VH_AGENT_KEXEC " stage=%d lines=%d", h->p->stage, ktap_lines() + 1);
	err = kexec_reboot();
	/* Still here: the kernel refused the reboot. The stream of this stage ends; the host judges it. */
	if (h->f->kho_off) {
		assert_device_kept(h);
		ktap_trailing_plan();
	}
	ktap_bail(VH_BAIL_KEXEC_REFUSED ": %s", errname(err));
}

/* The host checks every page the device writes after the kexec against these (QEMU's trace: harness/dma-witness.ts). */
static void report_preserved_pages(const struct dmabuf *b)
{
	char list[1000] = ""; /* one info line: room for 50 pages, more than any in-flight case maps */
	size_t o = 0;

	for (size_t i = 0; i < b->len / VH_PAGE && o + 20 < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s0x%llx", i ? "," : "", (unsigned long long)b->pa[i]);
	ktap_info(VH_INFO_PRESERVED_PAGES, "%s", list);
}

/* Last before the reboot: the racer's log preserved in the state session, both threads through one call each. */
static void arm_irq_race(const struct handover *h)
{
	const char *name = VH_A_IRQ_RACE_ARMED;
	struct irq_race_log *log = NULL;
	int fd = -1, err;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	err = irq_race_log_create(&fd, &log);
	if (!err)
		err = luo_preserve(h->s_state, fd, TOKEN_IRQ_RACE);
	if (!err)
		err = irq_race_start(log, h->d.devfd, h->s_state);
	if (err)
		fail_hard(name, "preserve", -err, "the race log preserved and both threads running", "failed");
	else if (log->first_err)
		fail_hard(name, "preserve", -log->first_err, "VFIO_DEVICE_SET_IRQS (request trigger, DATA_BOOL false) accepted before any freeze", "refused");
	else if (log->probe_err)
		fail_hard(name, "preserve", -log->probe_err, "LIVEUPDATE_SESSION_GET_NAME of the state session answered", "refused");
	else
		pass(name);
}

static void handoff(struct handover *h)
{
	struct vh_state st;

	state_for_next(h, &st);
	create_sessions(h);
	if (h->f->dma)
		preserve_memfd(h);
	if (h->f->preserve_device)
		preserve_device(h, &st);
	if (h->f->preserve_iommufd)
		preserve_optional(h, VH_A_PRESERVE_IOMMUFD, VH_CLAIM_IOMMUFD_PRESERVE, h->d.iommufd, TOKEN_IOMMUFD, &st.iommufd_err);
	preserve_state(h, &st);
	load_next_kernel(h->p, h->stray_pa, h->f->kho_off, st.device_err);
	/* After the last sandboxed step of the stage: refusals during preserve and kexec_file_load count. */
	assert_sandbox_clean();
	/* The reads that landed after this line and by the next /init landed inside the kexec. */
	if (h->f->in_flight) {
		report_preserved_pages(&h->buf);
		ktap_info("in_flight_landed_before_kexec", "%u/%u", nvme_in_flight_landed(&h->buf, h->f->in_flight), h->f->in_flight);
	}
	if (h->f->irq_race)
		arm_irq_race(h);
	if (!ktap_failures())
		kexec_into_next(h);
}

#define CRASH_WATCH_MS 8000 /* after the owner is reaped: past when the throttled drive (2 reads a second) serves every read queued */
#define OWNER_READY_MS 300000 /* the owner's whole first stage, under TCG on a loaded host */

/* The owner: drives the device, leaves reads queued, preserves the memfd and the device fd, then waits for its SIGKILL. */
static __attribute__((noreturn)) void owner_run(struct handover *h, struct owner_report *r, int ready_fd)
{
	struct vh_state st;
	uint32_t pending;

	stage_first(h);
	state_for_next(h, &st);
	create_sessions(h);
	preserve_memfd(h);
	preserve_device(h, &st);
	r->device_err = st.device_err;
	report_preserved_pages(&h->buf);
	/* The guest's count; the host's own, from QEMU's trace at the owner_killed line, is the one judged. */
	pending = h->buf.va ? (uint32_t)__builtin_popcount(nvme_in_flight_untouched(&h->buf, h->f->in_flight)) : 0;
	ktap_info("in_flight_pending_at_kill", "%u/%u", pending, h->f->in_flight);
	r->ready = !ktap_failures();
	if (write(ready_fd, "k", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Waits up to ms for the owner's word: 1 it is ready to be killed, 0 it gave up (exited, or failed a step). */
static int owner_ready(int fd, const struct owner_report *r, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c;

	return poll(&pfd, 1, ms) == 1 && read(fd, &c, 1) == 1 && r->ready;
}

/* The owner's session gone with it: a new session of the same name is accepted (LUO refuses a name in use). */
static void assert_owner_session_gone(void)
{
	const char *name = VH_A_OWNER_CRASH_SESSION_GONE;
	int luofd, s;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	luofd = luo_open();
	s = luofd < 0 ? luofd : luo_create_session(luofd, "vh-dma");
	if (s < 0)
		fail_soft(name, "owner", -s, "/dev/liveupdate free and CREATE_SESSION vh-dma accepted: the dead owner's session torn down",
			  "%s", luofd < 0 ? "/dev/liveupdate did not open" : "CREATE_SESSION vh-dma refused");
	else
		pass(name);
	if (s >= 0)
		close(s);
	if (luofd >= 0)
		close(luofd);
}

/* The device's own register once its owner is gone, read through sysfs: nobody holds it, so it must not master. */
static void assert_owner_device_stopped(const struct handover *h)
{
	const char *name = VH_A_OWNER_CRASH_DEVICE_STOPPED;
	uint16_t cmd = 0;
	int err;

	if (!step_cap(name, VH_CLAIM_VFIO_PRESERVE))
		return;
	err = sysfs_command(h->d.bdf, &cmd);
	if (err)
		fail_soft(name, "owner", -err, "PCI_COMMAND readable through sysfs", "failed");
	else if (cmd & PCI_COMMAND_MASTER)
		fail_soft(name, "owner", 0, "bus master off once the owner that preserved the device is dead", "PCI_COMMAND 0x%04x", cmd);
	else
		pass(name);
}

/* lifecycle-owner-crash: a child owns everything LUO and VFIO hold; this process, which holds none of it, kills it and
 * watches. The host judges the device's writes after the owner_reaped line (QEMU's trace: harness/dma-witness.ts). */
static void owner_crash(struct handover *h)
{
	struct owner_report *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t t0;
	int pipefd[2], st, ready;
	pid_t owner;

	if (r == MAP_FAILED || pipe2(pipefd, O_CLOEXEC)) {
		ktap_info(VH_INFO_AGENT, VH_AGENT_ERROR " owner-crash: shared page or pipe: %s", errname(errno));
		return;
	}
	owner = fork();
	if (owner == 0) {
		close(pipefd[0]);
		owner_run(h, r, pipefd[1]);
	}
	close(pipefd[1]);
	if (owner < 0) {
		ktap_info(VH_INFO_AGENT, VH_AGENT_ERROR " owner-crash: fork: %s", errname(errno));
		return;
	}
	ready = owner_ready(pipefd[0], r, OWNER_READY_MS);
	/* The owner's SKIP, in this process too: its steps SKIP with the same reason. */
	if (r->device_err)
		lacks_cap(VH_CLAIM_VFIO_PRESERVE, "LIVEUPDATE_SESSION_PRESERVE_FD of the vfio cdev fd returned %s", errname(r->device_err));
	if (!ready) {
		kill(owner, SIGKILL);
		waitpid(owner, &st, 0);
		/* The owner's own not ok says why; what it never set up cannot be watched. */
		ktap_info("owner", "gave up before it was ready to be killed");
		assert_owner_device_stopped(h);
		assert_owner_session_gone();
		return;
	}
	t0 = now_ms();
	ktap_info(VH_INFO_OWNER_KILLED, "pid %d, uptime_ms=%llu", owner, (unsigned long long)uptime_ms());
	kill(owner, SIGKILL);
	waitpid(owner, &st, 0);
	ktap_info(VH_INFO_OWNER_REAPED, "%llu ms after the kill, %s", (unsigned long long)(now_ms() - t0),
		  WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? "killed by SIGKILL" : "not by SIGKILL");
	assert_owner_device_stopped(h);
	assert_owner_session_gone();
	/* The host's window: every queued read has been served by now, or will never be. */
	nap_ms(CRASH_WATCH_MS);
	ktap_info("owner_watch_ms", "%d", CRASH_WATCH_MS);
}

/* A stage that does not kexec ends here: the sandbox's refusals count up to its last step. */
static int end_last_stage(void)
{
	assert_sandbox_clean();
	ktap_trailing_plan();
	return ktap_failures() ? 1 : 0;
}

static int run_flow(const struct plan *p, const struct flow *f)
{
	struct handover h = {
		.p = p,
		.f = f,
		.d = { .bdf = f->native ? p->native_bdf : p->dma_bdf, .devfd = -1, .iommufd = -1 },
		.check_driver_anyway = !strcmp(p->cheat, VH_CHEAT_CHECK_DRIVER),
		.luofd = -1,
		.s_dma = -1,
		.s_state = -1,
		.in_dma = -1,
		.in_state = -1,
	};

	/* Before userspace touches anything: who owns the device in this kernel? */
	pci_driver(h.d.bdf, h.early, sizeof(h.early));
	dma_seed_from(p->cmdline);
	ktap_header(0);
	ktap_info("driver_at_start", "%s", h.early[0] ? h.early : "(none)");
	require_dma_mode(p->iommu, h.d.bdf);
	if (p->stage > 1 && f->kho_off) {
		assert_unclaimed_device_stopped(&h);
		return end_last_stage();
	}
	require_liveupdate();
	if (p->stage > 1 && f->irq_race) {
		if (!retrieve_state(&h))
			assert_irqs_refused_after_freeze(&h);
		return end_last_stage();
	}
	if (f->owner_crash) {
		owner_crash(&h);
		return end_last_stage();
	}
	if (p->stage == 1)
		stage_first(&h);
	else
		stage_next(&h);
	if (p->stage > 1)
		finish_incoming(&h);
	if (p->stage > 1 && f->unbind)
		assert_unbind_completes(&h);
	if (p->stage < p->stages) {
		handoff(&h);
		return ktap_failures() ? 1 : 0;
	}
	return end_last_stage();
}

/* Each kexec case is a flow of the engine above; vh.iommufd=1 (iommufd-handover) makes the iommufd cross too. */
static const struct {
	const char *name;
	struct flow f;
} flows[] = {
	{ VH_CASE_LUO_DMA_BUFFER, { .dma = 1 } },
	{ VH_CASE_MEMFD_CHAIN, { .dma = 1 } },
	{ VH_CASE_KEXEC_CHAIN, { .dma = 1, .preserve_device = 1 } },
	{ VH_CASE_VFIO_HANDOVER, { .dma = 1, .preserve_device = 1 } },
	{ VH_CASE_IOMMUFD_HANDOVER, { .dma = 1, .preserve_device = 1 } },
	{ VH_CASE_VFIO_HANDOVER_IOMMU, { .dma = 1, .preserve_device = 1 } },
	{ VH_CASE_ONLY_VFIO, { .preserve_device = 1, .native = 1 } },
	/* the controller crosses enabled, its queues in the preserved memfd */
	{ VH_CASE_NVME_HANDOVER, { .dma = 1, .preserve_device = 1, .nvme = 1 } },
	/* nvme reads issued before the kexec land, through it, in the preserved memfd */
	{ VH_CASE_DMA_ACROSS_KEXEC, { .dma = 1, .preserve_device = 1, .nvme = 1, .in_flight = 6 } },
	{ VH_CASE_LIFECYCLE_REPRESERVE, { .dma = 1, .preserve_device = 1, .represerve = 1 } },
	{ VH_CASE_LIFECYCLE_SECOND_OPENER, { .dma = 1, .preserve_device = 1, .second_opener = 1 } },
	{ VH_CASE_LIFECYCLE_ABANDONED, { .dma = 1, .preserve_device = 1, .nvme = 1, .in_flight = 9, .abandon = 1 } },
	{ VH_CASE_LIFECYCLE_UNBIND_FINISH, { .dma = 1, .preserve_device = 1, .unbind = 1 } },
	{ VH_CASE_LIFECYCLE_KHO_OFF, { .dma = 1, .preserve_device = 1, .kho_off = 1 } },
	{ VH_CASE_LIFECYCLE_OWNER_CRASH, { .dma = 1, .preserve_device = 1, .nvme = 1, .in_flight = 9, .owner_crash = 1 } },
	{ VH_CASE_LIFECYCLE_IRQ_AFTER_FREEZE, { .dma = 1, .preserve_device = 1, .irq_race = 1 } },
	{ VH_CASE_LIFECYCLE_PRESSURE_BEFORE_MAP, { .dma = 1, .preserve_device = 1, .pressure = 1 } },
};

int case_handover(const struct plan *p)
{
	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		if (!strcmp(p->casename, flows[i].name)) {
			struct flow f = flows[i].f;

			f.preserve_iommufd = p->iommufd;
			return run_flow(p, &f);
		}
	}
	ktap_bail("case %s has no handover flow", p->casename);
	return 1;
}
