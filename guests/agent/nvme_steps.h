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

/* Negative controls: the last in-flight read goes to a page nobody preserves, refused by the device or landing there. */
enum nvme_stray { NVME_STRAY_NONE, NVME_STRAY_REFUSED, NVME_STRAY_LANDS };

/* dma_in_flight_issued: count pages' patterns written to the namespace, then read back into them without waiting;
 * returns the stray page a landing stray read writes (the next kernel must keep off it), else 0. */
uint64_t nvme_issue_in_flight(struct vdev *d, struct nvme *n, struct dmabuf *b, uint32_t count, enum nvme_stray stray);
/* dma_targets_preserved: the submission queue's in-flight entries target only preserved pages (pages: npages PAs). */
void assert_in_flight_targets(struct dmabuf *b, const struct nvme_cursor *c, uint32_t count, const uint64_t *pages, uint32_t npages);
/* The pages the in-flight reads write (and the completion queue): left out of the memfd's digest (bit i: page i). */
uint64_t nvme_in_flight_pages(uint32_t count);
/* How many of the in-flight reads have landed so far. */
uint32_t nvme_in_flight_landed(struct dmabuf *b, uint32_t count);
/* Which of the count in-flight target pages no read has written yet (bit i: target i still holds its not-landed fill). */
uint32_t nvme_in_flight_untouched(struct dmabuf *b, uint32_t count);
/* dma_in_flight_landed: before anything touches the device, every read landed whole; the cursor takes their completions. */
/* command: PCI_COMMAND as this kernel found it (negative: unknown), to say why nothing completed. */
void assert_in_flight_landed(struct nvme *n, struct dmabuf *b, struct nvme_cursor *c, uint32_t count, int command);

#endif
