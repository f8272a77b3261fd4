/* The nvme handover's assertions (case nvme-handover), on the buffer laid out as nvme.h says. */
#ifndef VH_NVME_STEPS_H
#define VH_NVME_STEPS_H
#include "driver.h"
#include "nvme.h"

/* nvme_controller_ready, nvme_identify, nvme_io_queues, nvme_write_read. */
void nvme_first_stage(struct vdev *d, struct dmabuf *b, struct nvme *n);
/* not_reset: the controller still enabled on the queues the previous stage programmed. */
void assert_nvme_not_reset(struct vdev *d, struct nvme *n, const struct nvme_regs *was);
/* nvme_io_resumes: the previous stage's page read back through its I/O queue, without reinitialising. */
void assert_nvme_io_resumes(struct vdev *d, struct dmabuf *b, struct nvme *n, const struct nvme_cursor *c, int last);

#endif
