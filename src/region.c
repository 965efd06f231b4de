/*
 * region.c — the raw region API: the protected path on plain bytes of the
 * raw area (region 8; never the KV data region or the metadata).  The seed's
 * read_cxl, write_cxl and compare_cxl, plus an 8-byte compare-and-swap.
 *
 * Each call is the same sequence, held in one place, region_access():
 * open, verify the token, check rights and bounds; the caller then moves
 * bytes and closes.  Nothing is copied before every check has passed.
 *
 * Flush mode (docs/coherence.md).  The raw area is data, not coherent: a
 * read drops this host's copy of the lines first, a write writes them back
 * after, and a write first fetches the lines it covers only in part, since
 * writing back a line writes all of it, stale neighbours included.  Two
 * hosts writing one line at once still lose one of the writes, as on any
 * non-coherent memory: hosts that share the raw area must not share lines.
 * The compare-and-swap is refused: a cross-host atomic needs coherent
 * memory, and the raw area is not.
 */
#include "error.h"
#include "pool.h"
#include "timing.h"

#include <stdbool.h>
#include <string.h>

/* Opens the pool and authorizes [off, off+len) for `need`; on success the
 * caller owns the open section and gets the address of `off`. */
static int region_access(shmemora_pool *pool, const shmemora_token *tok, uint32_t need,
			 uint64_t off, uint64_t len, uint8_t **addr, protect_saved *saved)
{
	if (!pool || !tok)
		return error_set(SHMEMORA_E_INVALID, "region access: pool and token are required");
	uint64_t data_size = pool->sb.region[REGION_RAW].size;
	*saved = protect_open(&pool->prot);
	struct cap_fields f;
	int rc = protect_verify(&pool->prot, tok, 0, &f);
	if (rc == 0)
		rc = protect_require_rights(&f, need);
	uint64_t t = TIMING_START();
	if (rc == 0)
		rc = protect_require_region(&f, data_size, off, len);
	TIMING_ADD(PHASE_RIGHTS, t);
	if (rc) {
		protect_close(&pool->prot, *saved);
		return rc;
	}
	*addr = (uint8_t *)pool_region(pool, REGION_RAW) + off;
	return 0;
}

/* Fetches the lines [dst, dst+len) covers only in part (its first and
 * last), so that writing them back carries other hosts' current bytes
 * around ours.  A line the write covers whole needs nothing: every byte
 * written back is ours.  The raw area starts on a page, so address and
 * offset agree on line boundaries. */
static void fetch_partial_lines(const struct coherence *coh, uint8_t *dst, size_t len)
{
	uintptr_t first = (uintptr_t)dst, end = first + len;
	if (len == 0)
		return;
	bool head = first % CACHE_LINE != 0;
	if (head)
		coherence_invalidate(coh, dst, 1);
	bool tail_shared = head && (end - 1) / CACHE_LINE == first / CACHE_LINE;
	if (end % CACHE_LINE != 0 && !tail_shared)
		coherence_invalidate(coh, dst + len - 1, 1);
}

int shmemora_region_read(shmemora_pool *pool, const shmemora_token *token, uint64_t offset,
			 void *buf, size_t len)
{
	if (!buf && len)
		return error_set(SHMEMORA_E_INVALID, "region_read: buf is NULL");
	uint8_t *src;
	protect_saved s;
	int rc = region_access(pool, token, SHMEMORA_RIGHT_READ, offset, len, &src, &s);
	if (rc)
		return rc;
	uint64_t t = TIMING_START();
	coherence_invalidate(&pool->coh, src, len);
	memcpy(buf, src, len);
	TIMING_ADD(PHASE_COPY, t);
	protect_close(&pool->prot, s);
	return 0;
}

int shmemora_region_write(shmemora_pool *pool, const shmemora_token *token, uint64_t offset,
			  const void *buf, size_t len)
{
	if (!buf && len)
		return error_set(SHMEMORA_E_INVALID, "region_write: buf is NULL");
	uint8_t *dst;
	protect_saved s;
	int rc = region_access(pool, token, SHMEMORA_RIGHT_WRITE, offset, len, &dst, &s);
	if (rc)
		return rc;
	if ((rc = pool_may_write(pool))) { /* fence, before the copy */
		protect_close(&pool->prot, s);
		return rc;
	}
	uint64_t t = TIMING_START();
	fetch_partial_lines(&pool->coh, dst, len);
	memcpy(dst, buf, len);
	coherence_writeback(&pool->coh, dst, len);
	TIMING_ADD(PHASE_COPY, t);
	rc = pool_may_write(pool); /* fence, after: else not acknowledged */
	protect_close(&pool->prot, s);
	return rc;
}

int shmemora_region_compare(shmemora_pool *pool, const shmemora_token *token,
			    uint64_t offset, const void *buf, size_t len, int *equal)
{
	if ((!buf && len) || !equal)
		return error_set(SHMEMORA_E_INVALID, "region_compare: buf and equal are required");
	uint8_t *src;
	protect_saved s;
	int rc = region_access(pool, token, SHMEMORA_RIGHT_READ, offset, len, &src, &s);
	if (rc)
		return rc;
	coherence_invalidate(&pool->coh, src, len);
	*equal = memcmp(src, buf, len) == 0;
	protect_close(&pool->prot, s);
	return 0;
}

int shmemora_region_cas64(shmemora_pool *pool, const shmemora_token *token, uint64_t offset,
			  uint64_t *expected, uint64_t desired, int *swapped)
{
	if (!expected || !swapped)
		return error_set(SHMEMORA_E_INVALID, "region_cas64: expected and swapped are "
				 "required");
	if (offset % 8)
		return error_set(SHMEMORA_E_INVALID, "region_cas64: offset %llu is not 8-aligned",
				 (unsigned long long)offset);
	uint8_t *word;
	protect_saved s;
	int rc = region_access(pool, token, SHMEMORA_RIGHT_READ | SHMEMORA_RIGHT_WRITE, offset,
			       8, &word, &s);
	if (rc)
		return rc;
	if (pool->coh.flush_mode) {
		protect_close(&pool->prot, s);
		return error_set(SHMEMORA_E_UNSUPPORTED, "region_cas64: the raw area is not "
				 "coherent between hosts in flush mode, and a compare-and-swap "
				 "across hosts needs coherent memory (docs/coherence.md)");
	}
	if ((rc = pool_may_write(pool))) { /* fence, before the CAS */
		protect_close(&pool->prot, s);
		return rc;
	}
	/* The data area starts on a page, so an 8-aligned offset is an
	 * 8-aligned address.  seq_cst both ways: the caller's own CAS, whose
	 * order it may rely on as on any C11 atomic.  Coherent mode only (see
	 * above): nothing to write back. */
	*swapped = __atomic_compare_exchange_n((uint64_t *)(void *)word, expected, desired, 0,
					       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	rc = pool_may_write(pool); /* fence, after: else not acknowledged */
	protect_close(&pool->prot, s);
	return rc;
}
