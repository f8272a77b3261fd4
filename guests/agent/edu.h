/* QEMU's edu device: identification, liveness and its 4 KiB DMA engine. */
#ifndef VH_EDU_H
#define VH_EDU_H
#include <stdint.h>

#define EDU_ID 0x00
#define EDU_LIVENESS 0x04
#define EDU_FACTORIAL 0x08
#define EDU_STATUS 0x20
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_DMA_START 1
#define EDU_DMA_TO_RAM 2
#define EDU_BUF 0x40000u
#define EDU_BUF_SIZE 4096u

uint32_t edu_read32(volatile uint8_t *bar, uint32_t off);
void edu_write32(volatile uint8_t *bar, uint32_t off, uint32_t val);
/* One transfer between RAM at phys and the device buffer; 0, or -ETIMEDOUT. */
int edu_dma(volatile uint8_t *bar, uint64_t phys, uint32_t len, int to_ram);

#endif
