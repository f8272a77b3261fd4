/* QEMU's nvme as a userspace driver sees it (the shape of SPDK): admin and I/O queues in DMA memory. */
#ifndef VH_NVME_H
#define VH_NVME_H
#include <stddef.h>
#include <stdint.h>

#define NVME_QUEUE_DEPTH 16u
/* Pages of the DMA buffer, in order: queues first, then the Identify page, then data. */
enum nvme_page { NVME_ASQ, NVME_ACQ, NVME_IOSQ, NVME_IOCQ, NVME_IDENTIFY, NVME_DATA, NVME_IN_FLIGHT = NVME_DATA + 2 };

struct nvme_queue {
	uint8_t *entries;
	uint64_t pa;
	uint16_t qid, tail, head, phase;
};

/* Where the driver is in its queues: what a later stage needs to go on without reinitialising. */
struct nvme_cursor {
	uint16_t asq_tail, acq_head, acq_phase, iosq_tail, iocq_head, iocq_phase, cid;
};

struct nvme {
	volatile uint8_t *bar;
	uint32_t doorbell_stride;
	struct nvme_queue asq, acq, iosq, iocq;
	uint64_t identify_pa;
	uint16_t cid;
};

/* The controller registers a reset clears: what stage 1 programmed must still be there. */
struct nvme_regs {
	uint32_t cc, csts, aqa;
	uint64_t asq, acq;
};

/* Lays the queues over the buffer's pages: va and pa of page 0, each page 4 KiB. */
void nvme_attach(struct nvme *n, volatile uint8_t *bar, uint8_t *va, const uint64_t *pa);
/* Disables, programs the admin queues, enables and waits for ready; 0 or -errno. */
int nvme_enable(struct nvme *n);
/* Clears CC.EN, so nothing DMAs into queues about to be unmapped; 0 or -ETIMEDOUT. */
int nvme_disable(struct nvme *n);
/* Identify Controller into the Identify page; 0, -ETIMEDOUT, or -EIO with *status the NVMe status. */
int nvme_identify(struct nvme *n, uint16_t *status);
/* Creates I/O completion and submission queue 1, interrupts off; 0 or -errno, *status as above. */
int nvme_create_io_queues(struct nvme *n, uint16_t *status);
/* One 4 KiB transfer between namespace 1 at lba and a page of the buffer; 0 or -errno, *status as above. */
int nvme_rw(struct nvme *n, int write, uint64_t lba, uint64_t pa, uint16_t *status);
/* Queues one 4 KiB read into pa and returns at once: it completes whenever the device gets to it. */
void nvme_read_nowait(struct nvme *n, uint64_t lba, uint64_t pa);
/* Completions on I/O queue 1 past the cursor, read from the queue in memory (up to max; *failed: with an error status). */
uint32_t nvme_completions_since(const struct nvme *n, const struct nvme_cursor *c, uint32_t max, uint32_t *failed);
/* The cursor after the driver took count completions. */
void nvme_consumed(struct nvme_cursor *c, uint32_t count);
void nvme_read_regs(const struct nvme *n, struct nvme_regs *r);
/* Polling's pause. */
void nap_ms(int ms);
void nvme_describe_regs(const struct nvme_regs *r, char *out, size_t cap);
void nvme_save(const struct nvme *n, struct nvme_cursor *c);
void nvme_restore(struct nvme *n, const struct nvme_cursor *c);

#endif
