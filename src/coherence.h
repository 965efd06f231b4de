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
 * names a sync word.
 *
 * The instruction is chosen once per pool from the CPU's flags.
 */
#ifndef SHMEMORA_COHERENCE_H
#define SHMEMORA_COHERENCE_H

#include <stddef.h>

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
};

/* Chooses instructions for `flush_mode` on this CPU; returns 0, or
 * SHMEMORA_E_UNSUPPORTED when flush mode is asked for on a CPU without any
 * cache flush instruction. */
int coherence_init(struct coherence *coh, int flush_mode);

void coherence_writeback_lines(const struct coherence *coh, const void *addr, size_t len);
void coherence_invalidate_lines(const struct coherence *coh, const void *addr, size_t len);

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

/* "clwb", "clflushopt", "clflush" or "none". */
const char *coherence_insn_name(enum coh_flush_insn insn);

/* The write-back instruction this CPU would use in flush mode. */
enum coh_flush_insn coherence_best_writeback(void);

#endif
