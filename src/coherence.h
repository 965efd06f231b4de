/*
 * coherence.h — cache-line write-back and invalidation for `flush` mode.
 *
 * CXL 2.0 lets several hosts share memory without keeping their caches
 * coherent.  In `flush` mode a writer writes its lines back (clwb, else
 * clflushopt, else clflush) and fences before it publishes, and a reader
 * invalidates the lines it is about to read (clflushopt/clflush: clwb may
 * leave a stale copy in the cache) so it fetches them from the device.
 * In `coherent` mode these calls are no-ops and cost a predictable branch.
 *
 * They are for the data area and the superblock only (layout.h): the sync
 * area, where every cross-host atomic lives, is coherent by flush mode's
 * assumption (CXL 3.x back-invalidation, or mapped uncached), so no call
 * names a sync word.  docs/coherence.md states the whole memory model.
 *
 * The instruction is chosen once per pool from the CPU's flags.
 *
 * The cache model build (-DSHMEMORA_CACHE_MODEL, `make build-model`) runs
 * every pool in flush mode and turns each call into an operation on the
 * calling host's modelled cache (cachemodel.h), naming its call site so the
 * mutation check can remove one site at a time.
 */
#ifndef SHMEMORA_COHERENCE_H
#define SHMEMORA_COHERENCE_H

#include <stddef.h>
#include <stdint.h>

enum coh_flush_insn {
	COH_NONE = 0,      /* coherent mode, or no flush instruction on this CPU */
	COH_CLFLUSH,
	COH_CLFLUSHOPT,
	COH_CLWB,
};

struct coherence {
	int flush_mode;                  /* 0: coherent, 1: flush */
	enum coh_flush_insn writeback;   /* used after writes */
	enum coh_flush_insn invalidate;  /* used before reads */
#ifdef SHMEMORA_CACHE_MODEL
	struct cache_model *model;       /* this host's cache; NULL: not modelled */
#endif
};

/* Chooses instructions for `flush_mode` on this CPU; returns 0, or
 * SHMEMORA_E_UNSUPPORTED when flush mode is asked for on a CPU without any
 * cache flush instruction.  The cache model build always chooses flush. */
int coherence_init(struct coherence *coh, int flush_mode);

void coherence_writeback_lines(const struct coherence *coh, const void *addr, size_t len);
void coherence_invalidate_lines(const struct coherence *coh, const void *addr, size_t len);

#ifndef SHMEMORA_CACHE_MODEL
/* Writes back every line of [addr, addr+len) and fences (sfence) so the
 * write-backs are ordered before any later store, e.g. a publishing CAS.
 * Inline so that coherent mode costs one predictable branch. */
static inline void coherence_writeback(const struct coherence *coh, const void *addr,
				       size_t len)
{
	if (coh->flush_mode)
		coherence_writeback_lines(coh, addr, len);
}

/* Drops [addr, addr+len) from this CPU's caches so the next loads read
 * memory; fences first so earlier loads are not reordered past the flush. */
static inline void coherence_invalidate(const struct coherence *coh, const void *addr,
					size_t len)
{
	if (coh->flush_mode)
		coherence_invalidate_lines(coh, addr, len);
}

/* A production build has no model: mapping and unmapping do nothing. */
static inline int coherence_model_map(struct coherence *coh, void *base, uint64_t size,
				      uint64_t sync_lo, uint64_t sync_hi, int fd,
				      uint64_t offset)
{
	(void)coh, (void)base, (void)size, (void)sync_lo, (void)sync_hi, (void)fd, (void)offset;
	return 0;
}
static inline void coherence_model_unmap(struct coherence *coh) { (void)coh; }
#else
/* The same calls on the modelled cache, each naming its site. */
void coherence_model_writeback(const struct coherence *coh, const void *addr, size_t len,
			       const char *file, int line);
void coherence_model_invalidate(const struct coherence *coh, const void *addr, size_t len,
				const char *file, int line);
#define coherence_writeback(coh, addr, len) \
	coherence_model_writeback((coh), (addr), (len), __FILE__, __LINE__)
#define coherence_invalidate(coh, addr, len) \
	coherence_model_invalidate((coh), (addr), (len), __FILE__, __LINE__)

/* Makes the pool mapped at base (from the medium open as fd, at offset) a
 * modelled host: everything outside the sync area [sync_lo, sync_hi)
 * becomes the host's cache.  0 or an error. */
int coherence_model_map(struct coherence *coh, void *base, uint64_t size, uint64_t sync_lo,
			uint64_t sync_hi, int fd, uint64_t offset);
/* Drops the host's cache (before the caller unmaps base). */
void coherence_model_unmap(struct coherence *coh);
#endif

/* "clwb", "clflushopt", "clflush" or "none". */
const char *coherence_insn_name(enum coh_flush_insn insn);

/* The write-back instruction this CPU would use in flush mode. */
enum coh_flush_insn coherence_best_writeback(void);

#endif
