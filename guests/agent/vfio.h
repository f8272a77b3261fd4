/* The userspace driver's kernel interfaces: PCI sysfs binding, the VFIO cdev, iommufd. */
#ifndef VH_VFIO_H
#define VH_VFIO_H
#include <stddef.h>
#include <stdint.h>

/* Every call returns 0 or -errno. */
int pci_driver(const char *bdf, char *out, size_t cap);
int pci_bind_vfio(const char *bdf);
int vfio_cdev_name(const char *bdf, char *out, size_t cap);

int vfio_bind_iommufd(int devfd, int iommufd, uint32_t *devid);
int vfio_attach_pt(int devfd, uint32_t pt, uint32_t *hwpt);
int vfio_region(int devfd, uint32_t index, uint64_t *offset, uint64_t *size, uint32_t *flags);
int vfio_config_read16(int devfd, uint32_t off, uint16_t *val);
int vfio_config_write16(int devfd, uint32_t off, uint16_t val);
int vfio_irq_enable(int devfd, uint32_t *index);
/* An eventfd VFIO signals when the kernel asks for the device back, or -errno. */
int vfio_req_eventfd(int devfd);
/* SET_IRQS of the request trigger with DATA_BOOL false: accepted by a live device, a no-op. 0 or -errno. */
int vfio_set_irqs_noop(int devfd);
/* Maps a BAR through the device fd. */
volatile uint8_t *vfio_map_bar(int devfd, uint32_t bar, uint64_t *size, int *err);

int ioas_alloc(int iommufd, uint32_t *ioas);
int ioas_map(int iommufd, uint32_t ioas, void *va, uint64_t len, uint64_t iova);
int ioas_map_file(int iommufd, uint32_t ioas, int memfd, uint64_t start, uint64_t len, uint64_t iova);
int ioas_unmap(int iommufd, uint32_t ioas, uint64_t iova, uint64_t len);
/* IOMMU_IOAS_NOIOMMU_GET_PA: *len is in (max bytes) and out (contiguous bytes). */
int noiommu_get_pa(int iommufd, uint32_t ioas, uint64_t iova, uint64_t *len, uint64_t *pa);
/* IOMMU_GET_HW_INFO; the IOMMU's type (IOMMU_HW_INFO_TYPE_*) in *type when given. */
int iommu_get_hw_info(int iommufd, uint32_t devid, uint32_t *type);

/* /proc/<pid>/status VmPin in kB, or -errno. */
long vmpin_kb(int pid);
long taint_mask(void);
int write_file(const char *path, const char *text);
int read_file(const char *path, char *out, size_t cap);

#endif
