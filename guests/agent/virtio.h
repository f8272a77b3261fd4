/* A reset witness in a modern virtio-pci device: state written through VFIO that any reset destroys. */
#ifndef VH_VIRTIO_H
#define VH_VIRTIO_H
#include <stddef.h>
#include <stdint.h>

/* What the witness reads back: the device status and queue 0's size and descriptor address. */
struct virtio_witness {
	uint8_t status;
	uint16_t queue_size;
	uint64_t queue_desc;
};

/* What virtio_witness_write() leaves in the device. */
extern const struct virtio_witness virtio_witness_written;

/* Writes the witness (status ACKNOWLEDGE|DRIVER, queue 0 programmed, never enabled); 0 or -errno. */
int virtio_witness_write(int devfd);
/* Reads it back; 0 or -errno (-ENODEV: no virtio common configuration capability). */
int virtio_witness_read(int devfd, struct virtio_witness *w);
/* Whether what was read is exactly virtio_witness_written. */
int virtio_witness_intact(const struct virtio_witness *w);
void virtio_witness_describe(const struct virtio_witness *w, char *out, size_t cap);

#endif
