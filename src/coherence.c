/*
 * coherence.c — the flush/invalidate primitives behind coherence.h, and in
 * the cache model build their model counterparts.
 */
#include "coherence.h"
#include "cachemodel.h"
#include "cpu.h"
#include "error.h"

#include <stdint.h>

#define CACHE_LINE 64

#if defined(__x86_64__)
static inline void line_clflush(const void *p)
{
	__asm__ volatile("clflush %0" : "+m"(*(volatile char *)p));
}
static inline void line_clflushopt(const void *p)
{
	/* clflushopt is encoded as 66 0F AE /7; spelled as bytes so old
	 * assemblers and -march=x86-64 builds accept it. */
	__asm__ volatile(".byte 0x66; clflush %0" : "+m"(*(volatile char *)p));
}
static inline void line_clwb(const void *p)
{
	/* clwb is 66 0F AE /6 (xsaveopt's opcode with a 66 prefix). */
	__asm__ volatile(".byte 0x66; xsaveopt %0" : "+m"(*(volatile char *)p));
}
static inline void store_fence(void) { __asm__ volatile("sfence" ::: "memory"); }
static inline void full_fence(void) { __asm__ volatile("mfence" ::: "memory"); }
#endif

enum coh_flush_insn coherence_best_writeback(void)
{
	const struct cpu_features *f = cpu_features();
	if (f->clwb)
		return COH_CLWB;
	if (f->clflushopt)
		return COH_CLFLUSHOPT;
	if (f->clflush)
		return COH_CLFLUSH;
	return COH_NONE;
}

int coherence_init(struct coherence *coh, int flush_mode)
{
	const struct cpu_features *f = cpu_features();
#ifdef SHMEMORA_CACHE_MODEL
	/* The model is what every test of this build is about: a pool created
	 * coherent runs in flush mode too. */
	flush_mode = 1;
	coh->model = NULL;
#endif
	coh->flush_mode = flush_mode;
	coh->writeback = COH_NONE;
	coh->invalidate = COH_NONE;
	if (!flush_mode)
		return 0;
	coh->writeback = coherence_best_writeback();
	coh->invalidate = f->clflushopt ? COH_CLFLUSHOPT : f->clflush ? COH_CLFLUSH : COH_NONE;
	if (coh->writeback == COH_NONE || coh->invalidate == COH_NONE)
		return error_set(SHMEMORA_E_UNSUPPORTED,
				 "flush coherence mode needs clflush, clflushopt or clwb, "
				 "and this CPU has none");
	return 0;
}

static void flush_range(enum coh_flush_insn insn, const void *addr, size_t len)
{
#if defined(__x86_64__)
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(CACHE_LINE - 1);
	uintptr_t end = (uintptr_t)addr + len;
	for (; p < end; p += CACHE_LINE) {
		switch (insn) {
		case COH_CLWB: line_clwb((const void *)p); break;
		case COH_CLFLUSHOPT: line_clflushopt((const void *)p); break;
		case COH_CLFLUSH: line_clflush((const void *)p); break;
		case COH_NONE: return;
		}
	}
#else
	(void)insn; (void)addr; (void)len;
#endif
}

void coherence_writeback_lines(const struct coherence *coh, const void *addr, size_t len)
{
	if (len == 0)
		return;
	flush_range(coh->writeback, addr, len);
#if defined(__x86_64__)
	store_fence(); /* orders the write-backs before the caller's publish */
#endif
}

void coherence_invalidate_lines(const struct coherence *coh, const void *addr, size_t len)
{
	if (len == 0)
		return;
#if defined(__x86_64__)
	full_fence(); /* earlier loads complete before the lines are dropped */
#endif
	flush_range(coh->invalidate, addr, len);
#if defined(__x86_64__)
	full_fence(); /* the flushes complete before the caller's loads */
#endif
}

const char *coherence_insn_name(enum coh_flush_insn insn)
{
	switch (insn) {
	case COH_CLWB: return "clwb";
	case COH_CLFLUSHOPT: return "clflushopt";
	case COH_CLFLUSH: return "clflush";
	case COH_NONE: break;
	}
	return "none";
}

#ifdef SHMEMORA_CACHE_MODEL
/* The model stands for the hardware: no instruction runs, the calling
 * host's modelled cache does what the instruction would. */
void coherence_model_writeback(const struct coherence *coh, const void *addr, size_t len,
			       const char *file, int line)
{
	cache_model_writeback(coh->flush_mode ? coh->model : NULL, addr, len, file, line);
}

void coherence_model_invalidate(const struct coherence *coh, const void *addr, size_t len,
				const char *file, int line)
{
	cache_model_invalidate(coh->flush_mode ? coh->model : NULL, addr, len, file, line);
}

int coherence_model_map(struct coherence *coh, void *base, uint64_t size, uint64_t sync_lo,
			uint64_t sync_hi, int fd, uint64_t offset)
{
	return cache_model_map(&coh->model, base, size, sync_lo, sync_hi, fd, offset);
}

void coherence_model_unmap(struct coherence *coh)
{
	cache_model_unmap(coh->model);
	coh->model = NULL;
}
#endif
