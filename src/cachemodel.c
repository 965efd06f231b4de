/*
 * cachemodel.c — the cache model of the test build (see cachemodel.h).
 *
 * Three mappings per host: `view`, the handle's own mapping, whose cached
 * ranges are private anonymous memory (the host's caches); `memory`, a
 * second mapping of the pool's pages (mremap of a shared mapping with old
 * size 0 maps the same pages again), which is what every host shares; and
 * `clean`, private, holding for each cached line the bytes last fetched or
 * written back, against which dirtiness is judged.
 *
 * Why each word moves with an atomic: the host's threads load and store
 * the view while the model works on it.  A write-back loads each word once
 * and stores that value both to memory and to `clean`, so a store that
 * lands after the load leaves the line dirty.  A fetch replaces a word of
 * the view only by compare-and-swap against `clean`: a word a sibling
 * stored meanwhile stays (it is then dirty against the fetched value), as
 * a store after the invalidate would on hardware.  Across hosts a line is
 * moved word by word, not whole: the library may rely on 8-byte accesses
 * being single-copy atomic, never on a line arriving at once.
 *
 * Only built with -DSHMEMORA_CACHE_MODEL; otherwise this file is empty.
 */
#include "cachemodel.h"

#ifdef SHMEMORA_CACHE_MODEL

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE 64
#define WORDS (LINE / 8)
#define PAGE 4096
#define RESIDENT 1024         /* lines a host named lately, direct-mapped: what it evicts */
#define NONE UINT64_MAX
#define EVICT_PROBES 8

/* Which medium a mapping shows: a file or device, from an offset. */
struct medium {
	bool known;
	dev_t dev;
	ino_t ino;
	uint64_t offset, size, sync_lo, sync_hi;
};

struct cache_model {
	pthread_mutex_t lock;       /* serialises the model's work for this host */
	uint8_t *view, *memory, *clean;
	uint64_t size, sync_lo, sync_hi;
	struct medium medium;
	uint64_t resident[RESIDENT]; /* line offsets, NONE: empty */
	uint64_t rng;
	unsigned evict_permille;
	struct cache_model_stats stats;
};

/* ------------------------------------------------------------ settings */

static struct {
	pthread_once_t once;
	unsigned evict_permille;
	uint64_t seed;
	char skip_file[256];
	int skip_line;              /* 0: no site skipped */
	const char *sites_path;
} cfg = { .once = PTHREAD_ONCE_INIT };

static void read_settings(void)
{
	const char *e = getenv("SHMEMORA_MODEL_EVICT");
	char *end;
	unsigned long v = e && *e ? strtoul(e, &end, 10) : CACHE_MODEL_EVICT_DEFAULT;
	cfg.evict_permille = e && *e && (*end || v > 1000) ? CACHE_MODEL_EVICT_DEFAULT
							   : (unsigned)v;
	const char *s = getenv("SHMEMORA_MODEL_SEED");
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	cfg.seed = s && *s ? strtoull(s, NULL, 0)
			   : (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec;
	const char *k = getenv("SHMEMORA_MODEL_SKIP");
	const char *colon = k ? strrchr(k, ':') : NULL;
	if (colon && (size_t)(colon - k) < sizeof cfg.skip_file) {
		memcpy(cfg.skip_file, k, (size_t)(colon - k));
		cfg.skip_file[colon - k] = 0;
		cfg.skip_line = atoi(colon + 1);
	}
	const char *p = getenv("SHMEMORA_MODEL_SITES");
	cfg.sites_path = p && *p ? p : NULL;
}

static void settings(void)
{
	pthread_once(&cfg.once, read_settings);
}

unsigned cache_model_evict_rate(void)
{
	settings();
	return cfg.evict_permille;
}

/* ---------------------------------------------------------------- sites */

#define SITES_MAX 512
static struct site {
	const char *file;
	int line;
	bool logged_call, logged_data;
} sites[SITES_MAX];
static unsigned site_count;
static pthread_mutex_t sites_lock = PTHREAD_MUTEX_INITIALIZER;

/* Appends "file:line what" to the sites file in one write, so records of
 * concurrent processes never interleave. */
static void log_site(const char *file, int line, const char *what)
{
	char rec[320];
	int n = snprintf(rec, sizeof rec, "%s:%d %s\n", file, line, what);
	int fd = open(cfg.sites_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || n <= 0)
		return;
	ssize_t w = write(fd, rec, (size_t)n < sizeof rec ? (size_t)n : sizeof rec - 1);
	(void)w; /* a lost record only makes the mutation check report the site */
	close(fd);
}

/* Records that site file:line ran (touching the model's cached part when
 * `data`), the first time it does in this process. */
static void note_site(const char *file, int line, bool data)
{
	if (!cfg.sites_path)
		return;
	pthread_mutex_lock(&sites_lock);
	struct site *s = NULL;
	for (unsigned i = 0; i < site_count && !s; i++)
		if (sites[i].line == line && strcmp(sites[i].file, file) == 0)
			s = &sites[i];
	if (!s && site_count < SITES_MAX) {
		s = &sites[site_count++];
		*s = (struct site){ .file = file, .line = line };
	}
	if (s && !s->logged_call) {
		s->logged_call = true;
		log_site(file, line, "call");
	}
	if (s && data && !s->logged_data) {
		s->logged_data = true;
		log_site(file, line, "data");
	}
	pthread_mutex_unlock(&sites_lock);
}

/* Is file:line the site the mutation check removed? */
static bool skipped(const char *file, int line)
{
	return cfg.skip_line == line && strcmp(cfg.skip_file, file) == 0;
}

/* ------------------------------------------------------- kept caches */

/* The clean lines of ended mappings, one per medium (the latest), waiting
 * for the process's next mapping of it.  A handful: tests make many pools. */
#define KEPT_MAX 8
static struct kept {
	struct medium medium;
	uint8_t *clean;             /* NULL: an empty slot */
	uint64_t when;
} kept[KEPT_MAX];
static uint64_t kept_clock;
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

static bool same_medium(const struct medium *a, const struct medium *b)
{
	return a->known && b->known && a->dev == b->dev && a->ino == b->ino &&
	       a->offset == b->offset && a->size == b->size && a->sync_lo == b->sync_lo &&
	       a->sync_hi == b->sync_hi;
}

/* Takes the clean lines kept for `md`, or NULL. */
static uint8_t *take_kept(const struct medium *md)
{
	uint8_t *clean = NULL;
	pthread_mutex_lock(&kept_lock);
	for (int i = 0; i < KEPT_MAX && !clean; i++) {
		if (kept[i].clean && same_medium(&kept[i].medium, md)) {
			clean = kept[i].clean;
			kept[i].clean = NULL;
		}
	}
	pthread_mutex_unlock(&kept_lock);
	return clean;
}

/* Keeps `clean` for the next mapping of `md`, in place of what was kept for
 * it, or else of the oldest. */
static void keep(const struct medium *md, uint8_t *clean)
{
	pthread_mutex_lock(&kept_lock);
	int slot = -1;
	for (int i = 0; i < KEPT_MAX && slot < 0; i++)
		if (kept[i].clean && same_medium(&kept[i].medium, md))
			slot = i;
	for (int i = 0; i < KEPT_MAX && slot < 0; i++)
		if (!kept[i].clean)
			slot = i;
	if (slot < 0) {
		slot = 0;
		for (int i = 1; i < KEPT_MAX; i++)
			if (kept[i].when < kept[slot].when)
				slot = i;
	}
	if (kept[slot].clean)
		munmap(kept[slot].clean, kept[slot].medium.size);
	kept[slot] = (struct kept){ .medium = *md, .clean = clean, .when = ++kept_clock };
	pthread_mutex_unlock(&kept_lock);
}

/* ------------------------------------------------------------- mappings */

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Replaces view's [lo, hi) by private memory holding the kept clean lines
 * (`warm`), or else what memory holds now; pages of zeros are left to the
 * kernel's zero page. */
static int privatise(struct cache_model *m, uint64_t lo, uint64_t hi, bool warm)
{
	if (lo >= hi)
		return 0;
	void *p = mmap(m->view + lo, hi - lo, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return error_set(SHMEMORA_E_NOMEM, "cache model: cannot map the host's copy: %s",
				 strerror(errno));
	for (uint64_t at = lo; at < hi; at += PAGE) {
		if (warm) {
			if (!page_is_zero(m->clean + at))
				memcpy(m->view + at, m->clean + at, PAGE);
			continue;
		}
		if (page_is_zero(m->memory + at))
			continue;
		/* Clean from the view, not from memory a second time: another
		 * host may write between the copies, and a difference would
		 * read as a dirty line whose write-back undoes that write. */
		memcpy(m->view + at, m->memory + at, PAGE);
		memcpy(m->clean + at, m->view + at, PAGE);
	}
	return 0;
}

/* The medium the view shows, when its descriptor says. */
static void identify(struct cache_model *m, int fd, uint64_t offset)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return;
	m->medium = (struct medium){
		.known = true, .dev = st.st_dev, .ino = st.st_ino, .offset = offset,
		.size = m->size, .sync_lo = m->sync_lo, .sync_hi = m->sync_hi,
	};
}

int cache_model_map(struct cache_model **out, void *view, uint64_t size, uint64_t sync_lo,
		    uint64_t sync_hi, int fd, uint64_t offset)
{
	settings();
	struct cache_model *m = calloc(1, sizeof *m);
	if (!m)
		return error_set(SHMEMORA_E_NOMEM, "cache model: out of memory");
	pthread_mutex_init(&m->lock, NULL);
	m->view = view;
	m->size = size;
	m->sync_lo = sync_lo < size ? sync_lo : size;
	m->sync_hi = sync_hi < size ? sync_hi : size;
	static _Atomic uint64_t hosts;
	m->rng = (cfg.seed ^ (++hosts) * 0x9e3779b97f4a7c15ULL) | 1;
	m->evict_permille = cfg.evict_permille;
	for (int i = 0; i < RESIDENT; i++)
		m->resident[i] = NONE;
	identify(m, fd, offset);
	m->memory = mremap(view, 0, size, MREMAP_MAYMOVE);
	if (m->memory == MAP_FAILED) {
		free(m);
		return error_set(SHMEMORA_E_IO, "cache model: cannot map the pool a second time: %s",
				 strerror(errno));
	}
	m->clean = take_kept(&m->medium);
	bool warm = m->clean != NULL;
	if (!warm)
		m->clean = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
				MAP_NORESERVE, -1, 0);
	int rc = m->clean == MAP_FAILED
		? error_set(SHMEMORA_E_NOMEM, "cache model: cannot map the clean copy: %s",
			    strerror(errno))
		: 0;
	if (rc == 0 && (rc = privatise(m, 0, m->sync_lo, warm)) == 0)
		rc = privatise(m, m->sync_hi, size, warm);
	if (rc) {
		if (m->clean != MAP_FAILED)
			munmap(m->clean, size);
		munmap(m->memory, size);
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void cache_model_unmap(struct cache_model *m)
{
	if (!m)
		return;
	munmap(m->memory, m->size);
	/* The view's dirty lines go with it; the clean lines stay. */
	if (m->medium.known)
		keep(&m->medium, m->clean);
	else
		munmap(m->clean, m->size);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* ---------------------------------------------------------------- lines */

static uint64_t *word_at(uint8_t *base, uint64_t off, unsigned w)
{
	return (uint64_t *)(void *)(base + off + (uint64_t)w * 8);
}

static bool cached(const struct cache_model *m, uint64_t off)
{
	return off < m->sync_lo || (off >= m->sync_hi && off < m->size);
}

/* Writes line `off` to memory if it is dirty: all of it.  A line is dirty
 * when it differs from its clean copy; a line the caller names in a
 * write-back is also dirty when it differs from memory, since the caller
 * stored to it (every write-back call of the library names only lines it
 * stored to) and the store may have left the line as it was in this host's
 * stale copy: hardware marks such a line modified, a comparison cannot. */
static void write_back_line(struct cache_model *m, uint64_t off, bool named)
{
	uint64_t now[WORDS];
	bool dirty = false;
	for (unsigned w = 0; w < WORDS; w++) {
		now[w] = __atomic_load_n(word_at(m->view, off, w), __ATOMIC_RELAXED);
		dirty |= now[w] != *word_at(m->clean, off, w);
		if (named)
			dirty |= now[w] != __atomic_load_n(word_at(m->memory, off, w),
							   __ATOMIC_RELAXED);
	}
	if (!dirty)
		return;
	for (unsigned w = 0; w < WORDS; w++) {
		__atomic_store_n(word_at(m->memory, off, w), now[w], __ATOMIC_RELAXED);
		*word_at(m->clean, off, w) = now[w];
	}
	m->stats.lines_written_back++;
}

/* Fetches line `off` from memory into the view, keeping any word a
 * sibling thread stored since the line was last fetched or written back
 * (callers write back first, so such a word is a store made meanwhile). */
static void fetch_line(struct cache_model *m, uint64_t off)
{
	for (unsigned w = 0; w < WORDS; w++) {
		uint64_t fresh = __atomic_load_n(word_at(m->memory, off, w), __ATOMIC_RELAXED);
		uint64_t old = *word_at(m->clean, off, w);
		__atomic_compare_exchange_n(word_at(m->view, off, w), &old, fresh, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		*word_at(m->clean, off, w) = fresh;
	}
	m->stats.lines_fetched++;
}

static void invalidate_line(struct cache_model *m, uint64_t off)
{
	write_back_line(m, off, false);
	fetch_line(m, off);
}

static void named_write_back(struct cache_model *m, uint64_t off)
{
	write_back_line(m, off, true);
}

static uint64_t next_random(struct cache_model *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

/* Notes cached line `off` as resident: a direct-mapped table, as a cache's
 * sets are, so a line named again and again is one candidate, not many. */
static void remember(struct cache_model *m, uint64_t off)
{
	m->resident[off / LINE % RESIDENT] = off;
}

/* With probability evict_permille / 1000, evicts one resident line (a few
 * probes for one; an empty table evicts nothing): written back if dirty,
 * fetched again at its next use, which here is at once. */
static void maybe_evict(struct cache_model *m)
{
	if (next_random(m) % 1000 >= m->evict_permille)
		return;
	for (int probe = 0; probe < EVICT_PROBES; probe++) {
		uint64_t *slot = &m->resident[next_random(m) % RESIDENT];
		if (*slot == NONE)
			continue;
		invalidate_line(m, *slot);
		*slot = NONE;
		m->stats.evictions++;
		return;
	}
}

/* The cached lines of [addr, addr+len) as offsets [*first, *last]; false
 * when the range is empty or outside the view. */
static bool line_span(const struct cache_model *m, const void *addr, size_t len,
		      uint64_t *first, uint64_t *last)
{
	const uint8_t *p = addr;
	if (!m || len == 0 || p < m->view || (uint64_t)(p - m->view) >= m->size)
		return false;
	uint64_t start = (uint64_t)(p - m->view);
	uint64_t end = len > m->size - start ? m->size : start + len;
	*first = start & ~(uint64_t)(LINE - 1);
	*last = (end - 1) & ~(uint64_t)(LINE - 1);
	return true;
}

typedef void line_op(struct cache_model *m, uint64_t off);

/* One coherence call: the site's bookkeeping, a chance of an eviction,
 * then `op` on every cached line of the range. */
static void model_call(struct cache_model *m, const void *addr, size_t len, const char *file,
		       int line, line_op *op)
{
	settings();
	if (skipped(file, line))
		return;
	uint64_t first, last;
	bool span = line_span(m, addr, len, &first, &last);
	bool data = false;
	if (span) {
		pthread_mutex_lock(&m->lock);
		maybe_evict(m);
		for (uint64_t off = first; off <= last; off += LINE) {
			if (!cached(m, off))
				continue; /* the sync area is memory itself */
			op(m, off);
			remember(m, off);
			data = true;
		}
		pthread_mutex_unlock(&m->lock);
	}
	note_site(file, line, data);
}

void cache_model_writeback(struct cache_model *m, const void *addr, size_t len,
			   const char *file, int line)
{
	model_call(m, addr, len, file, line, named_write_back);
}

void cache_model_invalidate(struct cache_model *m, const void *addr, size_t len,
			    const char *file, int line)
{
	model_call(m, addr, len, file, line, invalidate_line);
}

void cache_model_stats(struct cache_model *m, struct cache_model_stats *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->stats;
	pthread_mutex_unlock(&m->lock);
}

void cache_model_set_evict(struct cache_model *m, unsigned permille)
{
	pthread_mutex_lock(&m->lock);
	m->evict_permille = permille > 1000 ? 1000 : permille;
	pthread_mutex_unlock(&m->lock);
}

#endif
