#include "vfio.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>

#define SYSPCI "/sys/bus/pci/devices/"

static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

int read_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	out[n] = 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = 0;
	return 0;
}

int pci_driver(const char *bdf, char *out, size_t cap)
{
	char path[256], target[256];
	ssize_t n;

	snprintf(path, sizeof(path), SYSPCI "%s/driver", bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno == ENOENT) {
			out[0] = 0;
			return 0;
		}
		return -errno;
	}
	target[n] = 0;
	snprintf(out, cap, "%s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	return 0;
}

int pci_bind_vfio(const char *bdf)
{
	char path[256], drv[64];
	int err;

	snprintf(path, sizeof(path), SYSPCI "%s", bdf);
	if (access(path, F_OK))
		return -ENODEV;
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK))
		return -ENOENT;
	snprintf(path, sizeof(path), SYSPCI "%s/driver_override", bdf);
	err = write_file(path, "vfio-pci");
	if (err)
		return err;
	err = pci_driver(bdf, drv, sizeof(drv));
	if (err)
		return err;
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (drv[0]) {
		snprintf(path, sizeof(path), SYSPCI "%s/driver/unbind", bdf);
		err = write_file(path, bdf);
		if (err)
			return err;
	}
	return write_file("/sys/bus/pci/drivers/vfio-pci/bind", bdf);
}

int vfio_cdev_name(const char *bdf, char *out, size_t cap)
{
	char path[256];
	struct dirent *de;
	DIR *d;
	int err = -ENOENT;

	snprintf(path, sizeof(path), SYSPCI "%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(out, cap, "%s", de->d_name);
		err = 0;
		break;
	}
	closedir(d);
	return err;
}

int vfio_bind_iommufd(int devfd, int iommufd, uint32_t *devid)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = iommufd };
	int err = xioctl(devfd, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (!err)
		*devid = b.out_devid;
	return err;
}

int vfio_attach_pt(int devfd, uint32_t pt, uint32_t *hwpt)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = pt };
	int err = xioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

	if (!err)
		*hwpt = a.pt_id;
	return err;
}

int vfio_region(int devfd, uint32_t index, uint64_t *offset, uint64_t *size, uint32_t *flags)
{
	struct vfio_region_info r = { .argsz = sizeof(r), .index = index };
	int err = xioctl(devfd, VFIO_DEVICE_GET_REGION_INFO, &r);

	if (!err) {
		*offset = r.offset;
		*size = r.size;
		*flags = r.flags;
	}
	return err;
}

static int config_offset(int devfd, uint64_t *off)
{
	uint64_t size;
	uint32_t flags;

	return vfio_region(devfd, VFIO_PCI_CONFIG_REGION_INDEX, off, &size, &flags);
}

int vfio_config_read16(int devfd, uint32_t off, uint16_t *val)
{
	uint64_t base;
	int err = config_offset(devfd, &base);

	if (err)
		return err;
	if (pread(devfd, val, 2, (off_t)(base + off)) != 2)
		return errno ? -errno : -EIO;
	return 0;
}

int vfio_config_write16(int devfd, uint32_t off, uint16_t val)
{
	uint64_t base;
	int err = config_offset(devfd, &base);

	if (err)
		return err;
	if (pwrite(devfd, &val, 2, (off_t)(base + off)) != 2)
		return errno ? -errno : -EIO;
	return 0;
}

volatile uint8_t *vfio_map_bar(int devfd, uint32_t bar, uint64_t *size, int *err)
{
	uint64_t off;
	uint32_t flags;
	void *p;

	*err = vfio_region(devfd, VFIO_PCI_BAR0_REGION_INDEX + bar, &off, size, &flags);
	if (*err)
		return NULL;
	if (!(flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		*err = -ENOTSUP;
		return NULL;
	}
	p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, devfd, (off_t)off);
	if (p == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	return p;
}

int ioas_alloc(int iommufd, uint32_t *ioas)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	int err = xioctl(iommufd, IOMMU_IOAS_ALLOC, &a);

	if (!err)
		*ioas = a.out_ioas_id;
	return err;
}

int ioas_map(int iommufd, uint32_t ioas, void *va, uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};
	return xioctl(iommufd, IOMMU_IOAS_MAP, &m);
}

int ioas_map_file(int iommufd, uint32_t ioas, int memfd, uint64_t start, uint64_t len, uint64_t iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.fd = memfd,
		.start = start,
		.length = len,
		.iova = iova,
	};
	return xioctl(iommufd, IOMMU_IOAS_MAP_FILE, &m);
}

int ioas_unmap(int iommufd, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len };

	return xioctl(iommufd, IOMMU_IOAS_UNMAP, &u);
}

int noiommu_get_pa(int iommufd, uint32_t ioas, uint64_t iova, uint64_t *len, uint64_t *pa)
{
	struct iommu_ioas_noiommu_get_pa g = { .size = sizeof(g), .ioas_id = ioas, .iova = iova, .length = *len };
	int err = xioctl(iommufd, IOMMU_IOAS_NOIOMMU_GET_PA, &g);

	if (!err) {
		*len = g.length;
		*pa = g.out_phys;
	}
	return err;
}

int iommu_get_hw_info(int iommufd, uint32_t devid, uint32_t *type)
{
	uint8_t data[256];
	struct iommu_hw_info h = { .size = sizeof(h), .dev_id = devid, .data_len = sizeof(data), .data_uptr = (uintptr_t)data };
	int err = xioctl(iommufd, IOMMU_GET_HW_INFO, &h);

	if (!err && type)
		*type = h.out_data_type;
	return err;
}

long vmpin_kb(int pid)
{
	char path[64], buf[4096], *p;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	err = read_file(path, buf, sizeof(buf));
	if (err)
		return err;
	p = strstr(buf, "VmPin:");
	if (!p)
		return -ENOENT;
	return strtol(p + 6, NULL, 10);
}

long taint_mask(void)
{
	char buf[64];
	int err = read_file("/proc/sys/kernel/tainted", buf, sizeof(buf));

	return err ? err : strtol(buf, NULL, 10);
}

/* Arms MSI (else INTx) with an eventfd: the interrupts a kexec handing the device over must refuse. */
int vfio_irq_enable(int devfd, uint32_t *index)
{
	static const uint32_t order[] = { VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_INTX_IRQ_INDEX };
	char raw[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)raw;
	int err = -ENODEV;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int32_t efd = eventfd(0, EFD_CLOEXEC);

		if (efd < 0)
			return -errno;
		*set = (struct vfio_irq_set){ .argsz = sizeof(raw), .index = order[i], .start = 0, .count = 1,
					      .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER };
		memcpy(set->data, &efd, sizeof(efd));
		err = xioctl(devfd, VFIO_DEVICE_SET_IRQS, set);
		if (!err) {
			*index = order[i];
			return 0;
		}
		close(efd);
	}
	return err;
}

/* VFIO_DEVICE_SET_IRQS that changes nothing (the request trigger, DATA_BOOL false): what a frozen device must refuse. */
int vfio_set_irqs_noop(int devfd)
{
	char raw[sizeof(struct vfio_irq_set) + 1];
	struct vfio_irq_set *set = (struct vfio_irq_set *)raw;

	*set = (struct vfio_irq_set){ .argsz = sizeof(raw), .index = VFIO_PCI_REQ_IRQ_INDEX, .start = 0, .count = 1,
				      .flags = VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER };
	set->data[0] = 0;
	return xioctl(devfd, VFIO_DEVICE_SET_IRQS, set);
}

/* Arms VFIO's device request with an eventfd: the kernel signals it when it wants the device back (an unbind). */
int vfio_req_eventfd(int devfd)
{
	char raw[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)raw;
	int32_t efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int err;

	if (efd < 0)
		return -errno;
	*set = (struct vfio_irq_set){ .argsz = sizeof(raw), .index = VFIO_PCI_REQ_IRQ_INDEX, .start = 0, .count = 1,
				      .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER };
	memcpy(set->data, &efd, sizeof(efd));
	err = xioctl(devfd, VFIO_DEVICE_SET_IRQS, set);
	if (err) {
		close(efd);
		return err;
	}
	return efd;
}
