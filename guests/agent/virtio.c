/* The reset witness: a virtio device keeps its status and queue registers until something resets it
 * (FLR, a bus or PM reset, or a native driver's probe, which writes status 0 first). Queue 0 is
 * programmed but never enabled and DRIVER_OK never set, so the device never touches those addresses. */
#include "virtio.h"
#include "vfio.h"
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>

#define WITNESS_STATUS (VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER)
#define WITNESS_QUEUE_SIZE 4u /* below virtio-rng's default of 8, which a reset restores */
#define WITNESS_QUEUE_DESC 0x5648000ull /* "VH": page-aligned, never used for DMA */

const struct virtio_witness virtio_witness_written = {
	.status = WITNESS_STATUS,
	.queue_size = WITNESS_QUEUE_SIZE,
	.queue_desc = WITNESS_QUEUE_DESC,
};

/* Where the common configuration lives: the region offset of its BAR plus its offset in the BAR. */
struct common_cfg {
	int devfd;
	uint64_t base;
};

static int rw(const struct common_cfg *c, int write, uint32_t off, void *val, size_t len)
{
	ssize_t n = write ? pwrite(c->devfd, val, len, (off_t)(c->base + off)) : pread(c->devfd, val, len, (off_t)(c->base + off));

	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
}

static int config_read(int devfd, uint32_t off, void *val, size_t len)
{
	uint64_t base, size;
	uint32_t flags;
	int err = vfio_region(devfd, VFIO_PCI_CONFIG_REGION_INDEX, &base, &size, &flags);

	if (err)
		return err;
	return pread(devfd, val, len, (off_t)(base + off)) == (ssize_t)len ? 0 : -EIO;
}

/* Walks the capability list for the virtio vendor capability of type COMMON_CFG. */
static int find_common_cfg(int devfd, struct common_cfg *c)
{
	struct virtio_pci_cap cap;
	uint64_t bar_off, bar_size;
	uint32_t flags;
	uint8_t pos = 0;
	int err, guard = 48;

	err = config_read(devfd, PCI_CAPABILITY_LIST, &pos, 1);
	for (; !err && pos >= 0x40 && guard--; pos = cap.cap_next) {
		err = config_read(devfd, pos, &cap, sizeof(cap));
		if (err || cap.cap_vndr != PCI_CAP_ID_VNDR || cap.cfg_type != VIRTIO_PCI_CAP_COMMON_CFG)
			continue;
		err = vfio_region(devfd, VFIO_PCI_BAR0_REGION_INDEX + cap.bar, &bar_off, &bar_size, &flags);
		if (err)
			return err;
		c->devfd = devfd;
		c->base = bar_off + cap.offset;
		return 0;
	}
	return err ? err : -ENODEV;
}

int virtio_witness_write(int devfd)
{
	struct common_cfg c;
	uint8_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	uint16_t q = 0, size = WITNESS_QUEUE_SIZE;
	uint64_t desc = WITNESS_QUEUE_DESC;
	int err = find_common_cfg(devfd, &c);

	if (!err)
		err = rw(&c, 1, VIRTIO_PCI_COMMON_STATUS, &status, 1);
	status = WITNESS_STATUS;
	if (!err)
		err = rw(&c, 1, VIRTIO_PCI_COMMON_STATUS, &status, 1);
	if (!err)
		err = rw(&c, 1, VIRTIO_PCI_COMMON_Q_SELECT, &q, 2);
	if (!err)
		err = rw(&c, 1, VIRTIO_PCI_COMMON_Q_SIZE, &size, 2);
	if (!err)
		err = rw(&c, 1, VIRTIO_PCI_COMMON_Q_DESCLO, &desc, 4);
	desc >>= 32;
	if (!err)
		err = rw(&c, 1, VIRTIO_PCI_COMMON_Q_DESCHI, &desc, 4);
	return err;
}

int virtio_witness_read(int devfd, struct virtio_witness *w)
{
	struct common_cfg c;
	uint32_t lo = 0, hi = 0;
	uint16_t q = 0;
	int err = find_common_cfg(devfd, &c);

	if (!err)
		err = rw(&c, 0, VIRTIO_PCI_COMMON_STATUS, &w->status, 1);
	if (!err)
		err = rw(&c, 1, VIRTIO_PCI_COMMON_Q_SELECT, &q, 2);
	if (!err)
		err = rw(&c, 0, VIRTIO_PCI_COMMON_Q_SIZE, &w->queue_size, 2);
	if (!err)
		err = rw(&c, 0, VIRTIO_PCI_COMMON_Q_DESCLO, &lo, 4);
	if (!err)
		err = rw(&c, 0, VIRTIO_PCI_COMMON_Q_DESCHI, &hi, 4);
	w->queue_desc = (uint64_t)hi << 32 | lo;
	return err;
}

int virtio_witness_intact(const struct virtio_witness *w)
{
	return w->status == WITNESS_STATUS && w->queue_size == WITNESS_QUEUE_SIZE && w->queue_desc == WITNESS_QUEUE_DESC;
}

void virtio_witness_describe(const struct virtio_witness *w, char *out, size_t cap)
{
	snprintf(out, cap, "status 0x%02x, queue 0 size %u desc 0x%llx", w->status, w->queue_size, (unsigned long long)w->queue_desc);
}
