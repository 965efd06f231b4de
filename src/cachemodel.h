/*
 * cachemodel.h — a model of each host's cache, for tests of `flush` mode.
 *
 * Only in the cache model build (make build-model: -DSHMEMORA_CACHE_MODEL);
 * a production build compiles none of it.  docs/coherence.md gives the
 * memory model this stands for.
 *
 * Each attached handle is a host.  Its mapping of the pool keeps the sync
 * area (the words changed by cross-host atomics) shared, as flush mode
 * assumes that area coherent; every other byte of its mapping (the
 * superblock and the data area) is replaced by a private copy that stands
 * for the host's caches.  The library's plain loads and stores go to that
 * copy without being trapped, exactly as they go to a real cache.  A
 * second mapping of the same pages is the memory every host shares.
 *
 *   write-back  each dirty line of a range goes to memory, whole: all 64
 *               bytes, so bytes another host wrote to the same line since
 *               this host fetched it are overwritten, as hardware does.
 *   invalidate  each line is written back if dirty, then fetched again.
 *   eviction    on a share of the coherence calls (SHMEMORA_MODEL_EVICT),
 *               one line this host named lately (a direct-mapped table of
 *               1024) is evicted: written back if dirty, fetched again.
 *   detach      dirty lines are dropped: they never reach memory, as when
 *               a host crashes.  Clean lines stay, stale: the process's
 *               next mapping of the same medium starts from them, since a
 *               machine's cache outlives its mappings of a pool (a host
 *               must never read data it did not invalidate just because it
 *               mapped it afresh).
 *
 * A line is dirty when it differs from the clean copy kept beside it (the
 * bytes last fetched or written back): stores are not trapped, so a
 * comparison is the only honest test.  It misses one case: a store of the
 * value the line already held in this host's (stale) copy.  Hardware marks
 * that line modified; so a line named in a write-back call is written back
 * when it differs from memory too (every write-back call of the library
 * names only lines it stored to), while an eviction or an invalidate still
 * writes back only lines that differ from their clean copy.  Each word is moved with an atomic
 * load, store or compare-and-swap, so a store a sibling thread makes to
 * the line while the model works on it is kept, never lost; a host's
 * threads share its copy and the model's own work is serialised per host.
 *
 * For the mutation check (scripts/check-flush.sh) every call names its
 * site (file and line): SHMEMORA_MODEL_SKIP=FILE:LINE makes that one site
 * do nothing, and SHMEMORA_MODEL_SITES=PATH appends to PATH the sites this
 * process ran ("FILE:LINE call") and those that touched the modelled part
 * of the pool ("FILE:LINE data").
 */
#ifndef SHMEMORA_CACHEMODEL_H
#define SHMEMORA_CACHEMODEL_H

#include <stddef.h>
#include <stdint.h>

struct cache_model;

/* What a model has done, for tests. */
struct cache_model_stats {
	uint64_t lines_written_back;   /* dirty lines copied to memory */
	uint64_t lines_fetched;        /* lines copied from memory */
	uint64_t evictions;            /* lines evicted at random */
};

/*
 * Makes the `size` bytes mapped shared at `view` one host's view: every
 * byte outside [sync_lo, sync_hi) becomes a private copy, of what memory
 * holds now, or, when this process mapped the same medium before (the file
 * or device open as `fd`, from `offset`), of the clean lines that mapping
 * left: a cache outlives the mappings of its host.  E_NOMEM or E_IO with a
 * message.
 */
int cache_model_map(struct cache_model **out, void *view, uint64_t size, uint64_t sync_lo,
		    uint64_t sync_hi, int fd, uint64_t offset);

/* Ends the host's view: its dirty lines are lost, as in a crash, and its
 * clean lines are kept, stale, for the process's next mapping of the same
 * medium.  The caller unmaps the view. */
void cache_model_unmap(struct cache_model *m);

/* The coherence operations on [addr, addr+len), called from site file:line.
 * The model may be NULL (a mapping it does not cover): only the site is
 * recorded. */
void cache_model_writeback(struct cache_model *m, const void *addr, size_t len,
			   const char *file, int line);
void cache_model_invalidate(struct cache_model *m, const void *addr, size_t len,
			    const char *file, int line);

void cache_model_stats(struct cache_model *m, struct cache_model_stats *out);

/* Sets this host's eviction rate (per mille of coherence calls), for tests
 * that need evictions to happen, or not to. */
void cache_model_set_evict(struct cache_model *m, unsigned permille);

/* The eviction rate in per mille of coherence calls (SHMEMORA_MODEL_EVICT,
 * default CACHE_MODEL_EVICT_DEFAULT). */
#define CACHE_MODEL_EVICT_DEFAULT 100
unsigned cache_model_evict_rate(void);

#endif
