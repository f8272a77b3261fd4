/* A minimal polled NVMe driver: no interrupts, one I/O queue pair, PRP1 only (one page per command). */
#include "nvme.h"
#include "agent.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define REG_CAP 0x00
#define REG_CC 0x14
#define REG_CSTS 0x1c
#define REG_AQA 0x24
#define REG_ASQ 0x28
#define REG_ACQ 0x30
#define REG_DOORBELLS 0x1000
#define CC_EN 1u
#define CC_IOSQES (6u << 16) /* 64-byte submission entries */
#define CC_IOCQES (4u << 20) /* 16-byte completion entries */
#define CSTS_RDY 1u
#define SQE_SIZE 64
#define CQE_SIZE 16
#define PAGE 4096u
#define OP_CREATE_SQ 0x01
#define OP_CREATE_CQ 0x05
#define OP_IDENTIFY 0x06
#define OP_WRITE 0x01
#define OP_READ 0x02
#define POLL_MS 5000 /* by the clock: QEMU completes within milliseconds, even under TCG */

static uint32_t rd32(const struct nvme *n, uint32_t off)
{
	return *(volatile uint32_t *)(n->bar + off);
}

static void wr32(struct nvme *n, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(n->bar + off) = v;
}

static uint64_t rd64(const struct nvme *n, uint32_t off)
{
	return rd32(n, off) | (uint64_t)rd32(n, off + 4) << 32;
}

static void wr64(struct nvme *n, uint32_t off, uint64_t v)
{
	wr32(n, off, (uint32_t)v);
	wr32(n, off + 4, (uint32_t)(v >> 32));
}

void nap_ms(int ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&t, NULL);
}

void nvme_attach(struct nvme *n, volatile uint8_t *bar, uint8_t *va, const uint64_t *pa)
{
	struct nvme_queue *q[] = { &n->asq, &n->acq, &n->iosq, &n->iocq };

	memset(n, 0, sizeof(*n));
	n->bar = bar;
	n->doorbell_stride = 4u << ((rd64(n, REG_CAP) >> 32) & 0xf);
	n->identify_pa = pa[NVME_IDENTIFY];
	for (int i = 0; i < 4; i++) {
		q[i]->entries = va + (size_t)i * PAGE;
		q[i]->pa = pa[i];
		q[i]->qid = i < 2 ? 0 : 1;
		q[i]->phase = 1;
	}
}

static int wait_ready(struct nvme *n, uint32_t want)
{
	for (uint64_t t0 = now_ms(); now_ms() - t0 < POLL_MS;) {
		if ((rd32(n, REG_CSTS) & CSTS_RDY) == want)
			return 0;
		nap_ms(1);
	}
	return -ETIMEDOUT;
}

int nvme_disable(struct nvme *n)
{
	wr32(n, REG_CC, 0);
	return wait_ready(n, 0);
}

int nvme_enable(struct nvme *n)
{
	int err = nvme_disable(n);

	if (err)
		return err;
	memset(n->asq.entries, 0, PAGE);
	memset(n->acq.entries, 0, PAGE);
	wr32(n, REG_AQA, (NVME_QUEUE_DEPTH - 1) << 16 | (NVME_QUEUE_DEPTH - 1));
	wr64(n, REG_ASQ, n->asq.pa);
	wr64(n, REG_ACQ, n->acq.pa);
	wr32(n, REG_CC, CC_IOSQES | CC_IOCQES | CC_EN);
	return wait_ready(n, CSTS_RDY);
}

static uint32_t doorbell(const struct nvme *n, uint16_t qid, int completion)
{
	return REG_DOORBELLS + (2u * qid + (completion ? 1u : 0u)) * n->doorbell_stride;
}

/* The completion entry at head, if the device has posted it (its phase bit is the one expected). */
static const volatile uint32_t *cqe_at(const struct nvme_queue *cq, uint16_t head, uint16_t phase)
{
	const volatile uint32_t *cqe = (const volatile uint32_t *)(cq->entries + (size_t)head * CQE_SIZE);

	return ((cqe[3] >> 16) & 1) == phase ? cqe : NULL;
}

/* One entry consumed: the head moves on, and the expected phase flips each time it wraps. */
static void cq_advance(uint16_t *head, uint16_t *phase)
{
	*head = (uint16_t)((*head + 1) % NVME_QUEUE_DEPTH);
	if (!*head)
		*phase ^= 1;
}

/* Puts one command on sq and rings its doorbell; returns its CID. */
static uint16_t post(struct nvme *n, struct nvme_queue *sq, uint32_t *sqe)
{
	uint16_t cid = ++n->cid;

	sqe[0] |= (uint32_t)cid << 16;
	memcpy(sq->entries + (size_t)sq->tail * SQE_SIZE, sqe, SQE_SIZE);
	sq->tail = (uint16_t)((sq->tail + 1) % NVME_QUEUE_DEPTH);
	__sync_synchronize();
	wr32(n, doorbell(n, sq->qid, 0), sq->tail);
	return cid;
}

/* Submits one command on sq and polls cq for its completion; the command's CID is filled in here. */
static int submit(struct nvme *n, struct nvme_queue *sq, struct nvme_queue *cq, uint32_t *sqe, uint16_t *status)
{
	uint16_t cid = post(n, sq, sqe);
	for (uint64_t t0 = now_ms(); now_ms() - t0 < POLL_MS;) {
		const volatile uint32_t *cqe = cqe_at(cq, cq->head, cq->phase);

		if (!cqe) {
			nap_ms(1);
			continue;
		}
		*status = (uint16_t)(cqe[3] >> 17);
		if ((cqe[3] & 0xffff) != cid)
			return -EPROTO;
		cq_advance(&cq->head, &cq->phase);
		wr32(n, doorbell(n, cq->qid, 1), cq->head);
		return *status ? -EIO : 0;
	}
	return -ETIMEDOUT;
}

static void sqe_init(uint32_t *sqe, uint8_t opcode, uint32_t nsid, uint64_t prp1)
{
	memset(sqe, 0, SQE_SIZE);
	sqe[0] = opcode;
	sqe[1] = nsid;
	sqe[6] = (uint32_t)prp1;
	sqe[7] = (uint32_t)(prp1 >> 32);
}

int nvme_identify(struct nvme *n, uint16_t *status)
{
	uint32_t sqe[SQE_SIZE / 4];

	sqe_init(sqe, OP_IDENTIFY, 0, n->identify_pa);
	sqe[10] = 1; /* CNS 1: the controller */
	return submit(n, &n->asq, &n->acq, sqe, status);
}

int nvme_create_io_queues(struct nvme *n, uint16_t *status)
{
	uint32_t sqe[SQE_SIZE / 4];
	int err;

	memset(n->iosq.entries, 0, PAGE);
	memset(n->iocq.entries, 0, PAGE);
	sqe_init(sqe, OP_CREATE_CQ, 0, n->iocq.pa);
	sqe[10] = (NVME_QUEUE_DEPTH - 1) << 16 | n->iocq.qid;
	sqe[11] = 1; /* physically contiguous, interrupts off */
	err = submit(n, &n->asq, &n->acq, sqe, status);
	if (err)
		return err;
	sqe_init(sqe, OP_CREATE_SQ, 0, n->iosq.pa);
	sqe[10] = (NVME_QUEUE_DEPTH - 1) << 16 | n->iosq.qid;
	sqe[11] = (uint32_t)n->iocq.qid << 16 | 1;
	return submit(n, &n->asq, &n->acq, sqe, status);
}

static void rw_sqe(uint32_t *sqe, int write, uint64_t lba, uint64_t pa)
{
	sqe_init(sqe, write ? OP_WRITE : OP_READ, 1, pa);
	sqe[10] = (uint32_t)lba;
	sqe[11] = (uint32_t)(lba >> 32);
	sqe[12] = PAGE / 512 - 1; /* 0-based block count, 512-byte blocks */
}

int nvme_rw(struct nvme *n, int write, uint64_t lba, uint64_t pa, uint16_t *status)
{
	uint32_t sqe[SQE_SIZE / 4];

	rw_sqe(sqe, write, lba, pa);
	return submit(n, &n->iosq, &n->iocq, sqe, status);
}

void nvme_read_nowait(struct nvme *n, uint64_t lba, uint64_t pa)
{
	uint32_t sqe[SQE_SIZE / 4];

	rw_sqe(sqe, 0, lba, pa);
	post(n, &n->iosq, sqe);
}

uint32_t nvme_completions_since(const struct nvme *n, const struct nvme_cursor *c, uint32_t max, uint32_t *failed)
{
	uint16_t head = c->iocq_head, phase = c->iocq_phase;
	uint32_t got = 0;

	*failed = 0;
	for (const volatile uint32_t *cqe; got < max && (cqe = cqe_at(&n->iocq, head, phase)); got++) {
		if (cqe[3] >> 17)
			(*failed)++;
		cq_advance(&head, &phase);
	}
	return got;
}

void nvme_consumed(struct nvme_cursor *c, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++)
		cq_advance(&c->iocq_head, &c->iocq_phase);
}

void nvme_read_regs(const struct nvme *n, struct nvme_regs *r)
{
	r->cc = rd32(n, REG_CC);
	r->csts = rd32(n, REG_CSTS);
	r->aqa = rd32(n, REG_AQA);
	r->asq = rd64(n, REG_ASQ);
	r->acq = rd64(n, REG_ACQ);
}

void nvme_describe_regs(const struct nvme_regs *r, char *out, size_t cap)
{
	snprintf(out, cap, "CC 0x%x CSTS 0x%x AQA 0x%x ASQ 0x%llx ACQ 0x%llx", r->cc, r->csts, r->aqa, (unsigned long long)r->asq,
		 (unsigned long long)r->acq);
}

void nvme_save(const struct nvme *n, struct nvme_cursor *c)
{
	*c = (struct nvme_cursor){ n->asq.tail, n->acq.head, n->acq.phase, n->iosq.tail, n->iocq.head, n->iocq.phase, n->cid };
}

void nvme_restore(struct nvme *n, const struct nvme_cursor *c)
{
	n->asq.tail = c->asq_tail;
	n->acq.head = c->acq_head;
	n->acq.phase = c->acq_phase;
	n->iosq.tail = c->iosq_tail;
	n->iocq.head = c->iocq_head;
	n->iocq.phase = c->iocq_phase;
	n->cid = c->cid;
}
