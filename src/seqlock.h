/*
 * seqlock.h — copying bytes that a concurrent writer may be changing.
 *
 * Entries are read under a seqlock: the reader copies, then checks the
 * sequence word and throws the copy away if it changed.  The copy itself
 * races with the writer by design.  C11 calls that a data race even though
 * the result is never used; under ThreadSanitizer the copies are done with
 * relaxed atomic byte accesses so the tool sees the intent, and in
 * production they are plain memcpy/memcmp, as in every seqlock.
 */
#ifndef SHMEMORA_SEQLOCK_H
#define SHMEMORA_SEQLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define SEQLOCK_ATOMIC_BYTES 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SEQLOCK_ATOMIC_BYTES 1
#endif
#endif

/* dst <- src, where src may change under us. */
static inline void seqlock_read(void *dst, const void *src, size_t n)
{
#ifdef SEQLOCK_ATOMIC_BYTES
	for (size_t i = 0; i < n; i++)
		((uint8_t *)dst)[i] = __atomic_load_n((const uint8_t *)src + i, __ATOMIC_RELAXED);
#else
	memcpy(dst, src, n);
#endif
}

/* Compares shared bytes that may change under us with private ones. */
static inline int seqlock_equal(const void *shared, const void *mine, size_t n)
{
#ifdef SEQLOCK_ATOMIC_BYTES
	for (size_t i = 0; i < n; i++)
		if (__atomic_load_n((const uint8_t *)shared + i, __ATOMIC_RELAXED) !=
		    ((const uint8_t *)mine)[i])
			return 0;
	return 1;
#else
	return memcmp(shared, mine, n) == 0;
#endif
}

/* dst <- src, where readers of dst may be racing us (they will retry). */
static inline void seqlock_write(void *dst, const void *src, size_t n)
{
#ifdef SEQLOCK_ATOMIC_BYTES
	for (size_t i = 0; i < n; i++)
		__atomic_store_n((uint8_t *)dst + i, ((const uint8_t *)src)[i], __ATOMIC_RELAXED);
#else
	memcpy(dst, src, n);
#endif
}

#endif
