#include "edu.h"
#include <errno.h>
#include <time.h>

uint32_t edu_read32(volatile uint8_t *bar, uint32_t off)
{
	return *(volatile uint32_t *)(bar + off);
}

void edu_write32(volatile uint8_t *bar, uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(bar + off) = val;
}

static void write64(volatile uint8_t *bar, uint32_t off, uint64_t val)
{
	*(volatile uint64_t *)(bar + off) = val;
}

static uint64_t read64(volatile uint8_t *bar, uint32_t off)
{
	return *(volatile uint64_t *)(bar + off);
}

int edu_dma(volatile uint8_t *bar, uint64_t phys, uint32_t len, int to_ram)
{
	struct timespec nap = { 0, 2 * 1000 * 1000 };
	int waited_ms = 0;

	write64(bar, EDU_DMA_SRC, to_ram ? EDU_BUF : phys);
	write64(bar, EDU_DMA_DST, to_ram ? phys : EDU_BUF);
	write64(bar, EDU_DMA_CNT, len);
	write64(bar, EDU_DMA_CMD, EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0));
	/* The device finishes 100 ms (virtual) after the command; allow 50x that. */
	while (read64(bar, EDU_DMA_CMD) & EDU_DMA_START) {
		nanosleep(&nap, NULL);
		waited_ms += 2;
		if (waited_ms > 5000)
			return -ETIMEDOUT;
	}
	return 0;
}
