/*
 * pool.c — create, attach, detach, destroy and inspect a pool; the
 * heartbeat thread of each attached handle; the write fence.
 *
 * Create writes every region before the superblock, the backup copy before
 * the primary, so a crash mid-create leaves a file that attach refuses as
 * "not a pool" rather than a half-initialised one that it trusts.  On a
 * medium that already exists (a devdax device, FILE@OFFSET) everything that
 * can fail for a foreseeable reason (key file, root token file, geometry,
 * memory) is settled before the first byte is written, and the bytes create
 * overwrites are saved first and put back if a later step fails, so a failed
 * create leaves the device as it found it.  Attach trusts nothing it has not
 * verified: the superblock is read without mapping the pool (pread on
 * files; on devdax, which has no read(2), a transient read-only mapping of
 * its first aligned window), checked (checksum, version, geometry, then key
 * id and MAC), and only then is the pool mapped.  The descriptor is closed
 * once the pool is mapped: the mapping is all a host needs, and a held
 * descriptor is one more way to remap the pool without its protection.
 */
#include "backend.h"
#include "clock.h"
#include "config.h"
#include "error.h"
#include "harden.h"
#include "pool.h"
#include "superblock.h"
#include "timing.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *shmemora_version(void)
{
	return "0.1.0";
}

static int registry_bind(struct shmemora_pool *pool)
{
	return registry_init(&pool->registry, pool_region(pool, REGION_REGISTRY),
			     pool->sb.max_hosts, pool->sb.lease_ms);
}

/* The magazines and MAC caches, in the arena's private part (NULL before
 * the arena exists); again whenever the arena moves. */
static void pool_bind_thread_areas(struct shmemora_pool *pool)
{
	uint8_t *area = protect_private(&pool->prot);
	pool->heap.mags = (struct magazine *)area;
	pool->entries.caches = area ? (struct entry_cache *)(area + alloc_magazine_bytes()) : NULL;
}

void pool_bind(struct shmemora_pool *pool)
{
	const struct superblock *sb = &pool->sb;
	pool->caps = (struct captable){
		.sync = pool_region(pool, REGION_CAPSYNC),
		.entries = pool_region(pool, REGION_CAPTABLE),
		.count = sb->cap_entries, .coh = &pool->coh, .secrets = pool->secrets,
	};
	struct heap *h = &pool->heap;
	h->base = pool->base;
	h->headers = pool_region(pool, REGION_HEAP);
	h->extents = (struct extent_record *)(h->headers + sb->max_hosts);
	h->data_offset = sb->region[REGION_DATA].offset;
	h->data_size = sb->region[REGION_DATA].size;
	h->extent_size = sb->extent_size;
	h->extent_count = sb->region[REGION_DATA].size / sb->extent_size;
	h->hosts = sb->max_hosts;
	h->class_count = sb->size_class_count;
	h->class_size = pool->sb.size_class;
	h->coh = &pool->coh;
	pool->entries = (struct entries){
		.heap = &pool->heap, .secrets = pool->secrets,
		.max_key = sb->max_key, .max_value = sb->max_value,
	};
	pool_bind_thread_areas(pool);
	pool->index = (struct kv_index){
		.slots = pool_region(pool, REGION_INDEX), .count = sb->index_slots,
		.entries = &pool->entries, .registry = &pool->registry,
	};
	pool->nstable = (struct nstable){
		.records = pool_region(pool, REGION_NAMESPACES), .count = sb->ns_entries,
	};
}

/* ---------------------------------------------------- heartbeat thread */

/*
 * One thread per handle that holds a slot: every lease/8 it increments the
 * slot's heartbeat counter and observes the other slots (so this handle's
 * verdicts on other machines' hosts are ready when the index needs one).
 * It goes through the protected path like every access, never prints,
 * exits or aborts, and runs with every signal blocked.
 */
struct beat {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int stop;
	int running;  /* the thread has started (beat_start waits for it) */
};

static void beat_once(struct shmemora_pool *pool)
{
	protect_saved s = protect_open(&pool->prot);
	/* Relaxed: the flag only stops the beating; pool_may_write reads the
	 * owner word itself. */
	if (!atomic_load_explicit(&pool->fenced, memory_order_relaxed) &&
	    hosts_heartbeat(&pool->registry, pool->host_id, pool->epoch) == SHMEMORA_E_FENCED)
		atomic_store_explicit(&pool->fenced, 1, memory_order_relaxed);
	hosts_observe(&pool->registry);
	protect_close(&pool->prot, s);
}

static void *beat_main(void *arg)
{
	struct shmemora_pool *pool = arg;
	struct beat *b = pool->beat;
	uint64_t period = (uint64_t)pool->sb.lease_ms * 1000000ull / 8;
	pthread_mutex_lock(&b->lock);
	b->running = 1;
	pthread_cond_broadcast(&b->wake);
	while (!b->stop) {
		struct timespec at;
		clock_gettime(CLOCK_MONOTONIC, &at);
		uint64_t ns = (uint64_t)at.tv_nsec + period;
		at.tv_sec += (time_t)(ns / 1000000000ull);
		at.tv_nsec = (long)(ns % 1000000000ull);
		while (!b->stop && pthread_cond_timedwait(&b->wake, &b->lock, &at) != ETIMEDOUT)
			;
		if (b->stop)
			break;
		pthread_mutex_unlock(&b->lock);
		beat_once(pool);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static int beat_start(struct shmemora_pool *pool)
{
	struct beat *b = calloc(1, sizeof *b);
	if (!b)
		return error_set(SHMEMORA_E_NOMEM, "out of memory for the heartbeat thread");
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->wake, &ca);
	pthread_condattr_destroy(&ca);
	pool->beat = b;
	/* The thread inherits a mask with every signal blocked: the
	 * application's signals go to its own threads. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&b->thread, NULL, beat_main, pool);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		pthread_cond_destroy(&b->wake);
		pthread_mutex_destroy(&b->lock);
		free(b);
		pool->beat = NULL;
		return error_set(SHMEMORA_E_IO, "cannot start the heartbeat thread: %s",
				 strerror(e));
	}
	/* Attach returns with the thread running, not still starting: a
	 * thread's start-up allocates (the C library's, a sanitizer's), and a
	 * process that forks just after attach must not copy an allocator lock
	 * that the starting thread holds (the child would wait on it for ever;
	 * seen under ASan, whose allocator has no fork handlers). */
	pthread_mutex_lock(&b->lock);
	while (!b->running)
		pthread_cond_wait(&b->wake, &b->lock);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void beat_stop(struct shmemora_pool *pool)
{
	struct beat *b = pool->beat;
	if (!b)
		return;
	if (protect_forked(&pool->prot)) {
		/* A forked child has no copy of the thread, and the lock and
		 * condition are the parent's state at the fork: leave them. */
		pool->beat = NULL;
		free(b);
		return;
	}
	pthread_mutex_lock(&b->lock);
	b->stop = 1;
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->wake);
	pthread_mutex_destroy(&b->lock);
	pool->beat = NULL;
	free(b);
}

/* What this thread has added to its host's shared counters so far. */
static _Thread_local uint64_t contention_shared[CONT_KINDS];
#define CONTENTION_BATCH 64

void pool_share_contention(struct shmemora_pool *pool, bool now)
{
	if (pool->observer || (!now && contention[CONT_WRITES] - contention_shared[CONT_WRITES] <
					       CONTENTION_BATCH))
		return;
	_Atomic uint64_t *to[CONT_KINDS];
	alloc_header_counters(&pool->heap, pool->host_id, to);
	for (int k = 0; k < CONT_KINDS; k++) {
		/* A reset by shmemora_timing_read starts the count again. */
		uint64_t have = contention[k], was = contention_shared[k] <= have
							 ? contention_shared[k] : 0;
		if (have > was) /* relaxed: statistics */
			atomic_fetch_add_explicit(to[k], have - was, memory_order_relaxed);
		contention_shared[k] = have;
	}
}

int pool_may_write(struct shmemora_pool *pool)
{
	if (pool->observer)
		return error_set(SHMEMORA_E_READ_ONLY, "this handle is an observer (it holds no "
				 "host slot): attach without observer mode to write");
	return hosts_holds(&pool->registry, pool->host_id, pool->epoch);
}

/* ------------------------------------------------------------- handles */

static void pool_free(struct shmemora_pool *pool)
{
	if (!pool)
		return;
	beat_stop(pool);
	/* protect_fini wipes the secrets while the pool's protection key
	 * still reaches them; then they are unmapped. */
	alloc_fini(&pool->heap);
	protect_fini(&pool->prot);
	secrets_destroy(pool->secrets);
	coherence_model_unmap(&pool->coh); /* a modelled host's cache is lost */
	backend_unmap(pool->base, pool->size);
	registry_fini(&pool->registry);
	crypto_wipe(&pool->key, sizeof pool->key);
	free(pool->path);
	free(pool);
}

static int pool_alloc(const char *path, struct shmemora_pool **out)
{
	struct shmemora_pool *pool = calloc(1, sizeof *pool);
	if (!pool || !(pool->path = strdup(path))) {
		free(pool);
		return error_set(SHMEMORA_E_NOMEM, "out of memory for a pool handle");
	}
	pool->prot.pkey = -1;
	*out = pool;
	return 0;
}

/* A thread of this process ends: its magazine goes back to the extents,
 * if the slot is still ours.  A host whose slot was reclaimed while it was
 * frozen frees nothing (docs/multi-host.md, fencing): check --repair may
 * have freed those blocks already and the slot's new holder built entries
 * in them; its detach skips the flush for the same reason. */
static void thread_ends(void *arg, unsigned slot)
{
	struct shmemora_pool *pool = arg;
	struct magazine *mag = alloc_magazine(&pool->heap, (int)slot);
	if (!pool->observer && pool_may_write(pool) == 0)
		alloc_flush_magazine(&pool->heap, mag);
	else
		alloc_drop_magazine(mag);
}

/* Last step of create and attach: the secrets are derived, the protected
 * path takes over the pool (MPK key on the mapping where available) and the
 * raw key leaves the handle, which application code could read. */
static int protect_pool(struct shmemora_pool *pool)
{
	int rc = secrets_create(&pool->key, pool->sb.uuid, &pool->secrets);
	crypto_wipe(pool->key.bytes, sizeof pool->key.bytes);
	if (rc)
		return rc;
	pool_bind(pool);
	pool->heap.epoch = pool->epoch; /* an observer's is never used */
	if ((rc = alloc_init(&pool->heap)) ||
	    (rc = protect_init(&pool->prot, &pool->caps, pool->secrets, pool_key_hint(pool),
			       pool->base, pool->size, pool_thread_area_bytes())))
		return rc;
	pool_bind_thread_areas(pool);
	protect_on_thread_exit(&pool->prot, thread_ends, pool);
	if (!pool->observer) {
		protect_saved s = protect_open(&pool->prot);
		alloc_adopt_host(&pool->heap, pool->host_id);
		protect_close(&pool->prot, s);
	}
	return 0;
}

/* ------------------------------------------------------- hardened mode */

static uint64_t harden_footprint(void *arg, int which)
{
	struct shmemora_pool *pool = arg;
	return which == HARDEN_SECRETS ? secrets_footprint() : protect_arena_bytes(&pool->prot);
}

static int harden_move(void *arg, int which, void *dest)
{
	struct shmemora_pool *pool = arg;
	if (which == HARDEN_ARENA) {
		int rc = protect_move_arena(&pool->prot, dest);
		pool_bind_thread_areas(pool); /* they live in it */
		return rc;
	}
	int rc = secrets_move(&pool->secrets, dest);
	if (rc == 0) {
		pool->prot.secrets = pool->secrets;
		pool_bind(pool); /* the table's and the entries' pointers to them */
	}
	return rc;
}

static void harden_where(void *arg, int which, void **addr, uint64_t *len)
{
	struct shmemora_pool *pool = arg;
	if (which == HARDEN_SECRETS) {
		size_t n;
		secrets_mapping(pool->secrets, addr, &n);
		*len = n;
	} else {
		*addr = pool->prot.arena;
		*len = pool->prot.arena_size;
	}
}

/* Hardened mode around this pool, when the config or the environment asks
 * for it (harden.h). */
static int harden_pool(struct shmemora_pool *pool, const struct shmemora_config *cfg)
{
	struct harden_target t = {
		.pool_base = pool->base, .pool_size = pool->size, .pkey = pool->prot.pkey,
		.footprint = harden_footprint, .move = harden_move, .where = harden_where,
		.arg = pool,
	};
	return harden_process(&t, cfg->hardened);
}

/* Maps the pool; in a hardened process the filter refuses it, and the
 * message says why.  In the cache model build the handle is then a
 * modelled host: every byte outside the sync area is its cache. */
static int map_pool(struct backend *be, struct shmemora_pool *pool)
{
	const struct superblock *sb = &pool->sb;
	int rc = backend_map(be, pool->size, 1, (void **)&pool->base);
	if (rc && harden_active())
		return error_wrap(rc, "this process runs in hardened mode, whose filter refuses "
				  "every new shared mapping of a file; attach every pool before the "
				  "first hardened attach");
	if (rc)
		return rc;
	return coherence_model_map(&pool->coh, pool->base, pool->size,
				   sb->region[REGION_SYNC_FIRST].offset,
				   sb->region[REGION_SYNC_LAST].offset +
					   sb->region[REGION_SYNC_LAST].size,
				   be->fd, be->offset);
}

/* Mints the root token (whole pool, every right, no expiry, no parent, and
 * no quota: only the table's size bounds what it grants). */
static int mint_root_token(struct shmemora_pool *pool, const char *path)
{
	struct cap_fields root = {
		.scope = SHMEMORA_SCOPE_POOL, .rights = SHMEMORA_RIGHTS_ALL, .quota = UINT32_MAX,
	};
	shmemora_token token = { .key_hint = pool_key_hint(pool) };
	uint64_t cursor = 0;
	protect_saved s = protect_open(&pool->prot);
	int rc = captable_mint(&pool->caps, pool->host_id, &cursor, &root, &token.id, token.tag);
	protect_close(&pool->prot, s);
	if (rc == 0)
		rc = shmemora_token_save(&token, path);
	crypto_wipe(&token, sizeof token);
	return rc;
}

/* The bytes create writes: everything in front of the data region (the
 * superblock, the sync area and the capability entries). */
static uint64_t written_bytes(const struct superblock *sb)
{
	return sb->region[REGION_DATA].offset;
}

/* Copies the bytes create will write on an existing medium, so a failed
 * create can put them back. */
static int save_medium(const struct shmemora_pool *pool, uint8_t **saved)
{
	uint64_t total = written_bytes(&pool->sb);
	uint8_t *copy = total <= SIZE_MAX ? malloc((size_t)total) : NULL;
	if (!copy)
		return error_set(SHMEMORA_E_NOMEM, "out of memory saving the %llu bytes create "
				 "overwrites on the device (to restore them should it fail)",
				 (unsigned long long)total);
	coherence_invalidate(&pool->coh, pool->base, total);
	memcpy(copy, pool->base, total);
	*saved = copy;
	return 0;
}

static void restore_medium(struct shmemora_pool *pool, const uint8_t *saved)
{
	uint64_t total = written_bytes(&pool->sb);
	protect_saved s = protect_open(&pool->prot);
	memcpy(pool->base, saved, total);
	coherence_writeback(&pool->coh, pool->base, total);
	protect_close(&pool->prot, s);
	backend_sync(pool->backend, pool->base, pool->size);
}

/* Zeroes what a fresh pool must find zeroed: the sync area, so that every
 * state word reads free, every slot empty, every list empty.  A new file is
 * already zero; a reused device is not.  Nothing else needs it: the
 * superblock copies are written whole, a token's field line is written
 * whole at its mint before its state leaves FREE, and no one reads either
 * before that.  The sync area is coherent in flush mode too: no write-back. */
static void clear_metadata(struct shmemora_pool *pool)
{
	const struct superblock *sb = &pool->sb;
	uint64_t lo = sb->region[REGION_SYNC_FIRST].offset;
	uint64_t hi = sb->region[REGION_SYNC_LAST].offset + sb->region[REGION_SYNC_LAST].size;
	memset(pool->base + lo, 0, hi - lo);
}

/* Writes the sealed superblock: backup first, primary last. */
static int write_superblock(struct shmemora_pool *pool)
{
	int rc = superblock_seal(&pool->sb, &pool->key);
	if (rc)
		return rc;
	memcpy(pool->base + SB_BACKUP_OFFSET, &pool->sb, sizeof pool->sb);
	coherence_writeback(&pool->coh, pool->base + SB_BACKUP_OFFSET, sizeof pool->sb);
	if ((rc = backend_sync(pool->backend, pool->base + SB_BACKUP_OFFSET, sizeof pool->sb)))
		return rc;
	memcpy(pool->base + SB_PRIMARY_OFFSET, &pool->sb, sizeof pool->sb);
	coherence_writeback(&pool->coh, pool->base, sizeof pool->sb);
	return backend_sync(pool->backend, pool->base, sizeof pool->sb);
}

/* hugetlbfs and device files cannot hold the key or root token files that
 * default to living beside the pool: ask for places elsewhere, up front. */
static int check_secret_paths(const struct backend *be, const struct shmemora_config *cfg,
			      const char *path)
{
	if (be->kind == SHMEMORA_BACKEND_FILE)
		return 0;
	const char *env = getenv("SHMEMORA_KEY_FILE");
	int key_named = cfg->key_file || (env && *env);
	if (key_named && cfg->root_token_file)
		return 0;
	return error_set(SHMEMORA_E_INVALID,
			 "%s is on %s, which cannot hold the key file and root token file that "
			 "default to living beside it: give --key-file and --root-token-file "
			 "on an ordinary file system (e.g. /root/pool.key)", path,
			 be->kind == SHMEMORA_BACKEND_HUGETLBFS ? "hugetlbfs" : "a devdax device");
}

/* On a device (or FILE@OFFSET), refuse to overwrite a pool unless forced. */
static int check_device_unused(struct backend *be, const char *path, int force)
{
	if (!be->existing || force)
		return 0;
	struct superblock sb;
	int from_backup;
	int rc = superblock_read(be, &sb, &from_backup);
	if (rc == 0)
		return error_set(SHMEMORA_E_EXISTS, "%s already holds a SHMemora pool; destroy it "
				 "first or create with --force", path);
	if (rc == SHMEMORA_E_IO)
		return rc;
	error_clear();
	return 0;
}

/* A secret file create is about to write must not exist yet: found out
 * before anything is written. */
static int check_absent(const char *what, const char *file)
{
	if (access(file, F_OK) == 0)
		return error_set(SHMEMORA_E_EXISTS, "%s %s already exists; it may belong to another "
				 "pool: remove it or choose another path", what, file);
	return 0;
}

int shmemora_create(const char *path, const shmemora_config *cfg_in, shmemora_pool **out)
{
	error_clear();
	if (!path || !*path || !out)
		return error_set(SHMEMORA_E_INVALID, "create: path and out are required");
	const struct shmemora_config *cfg = config_or_default(cfg_in);
	char key_path[PATH_MAX], root_path[PATH_MAX];
	int rc = config_secret_paths(cfg, path, key_path, root_path);
	if (rc)
		return rc;

	struct shmemora_pool *pool;
	if ((rc = pool_alloc(path, &pool)))
		return rc;
	struct backend be = { .fd = -1 };
	int file_created = 0, key_created = 0, root_created = 0;
	uint8_t *saved = NULL;
	int written = 0;
	if ((rc = backend_create(path, &be, &file_created)) ||
	    (file_created && (rc = backend_share(&be, path, cfg->group))) ||
	    (rc = check_secret_paths(&be, cfg, path)) ||
	    (rc = check_device_unused(&be, path, cfg->force)))
		goto fail;

	struct geometry_request req = {
		.pool_size = cfg->size ? cfg->size
			   : be.existing ? align_down(be.size, be.alignment) : DEFAULT_POOL_SIZE,
		.alignment = be.alignment,
		.max_hosts = cfg->hosts,
		.cap_entries = cfg->capabilities,
		.index_slots = cfg->index_slots,
		.ns_entries = cfg->namespaces,
		.max_key = cfg->max_key,
		.max_value = cfg->max_value,
		.raw_size = cfg->raw_size,
		.raw_size_set = cfg->raw_size_set,
	};
	struct superblock *sb = &pool->sb;
	if ((rc = layout_plan(&req, sb)) ||
	    (rc = coherence_init(&pool->coh, cfg->coherence)) ||
	    (rc = crypto_random(sb->uuid, sizeof sb->uuid)))
		goto fail;
	sb->created_unix_ns = clock_realtime_ns();
	sb->page_size = be.page_size;
#ifdef SHMEMORA_CACHE_MODEL
	sb->coherence = SHMEMORA_FLUSH; /* the model build runs every pool in flush mode */
#else
	sb->coherence = (uint32_t)cfg->coherence;
#endif
	sb->backend = (uint32_t)be.kind;
	sb->lease_ms = cfg->lease_ms;
	pool->size = sb->pool_size;
	pool->backend = be.kind;
	pool->page_size = be.page_size;

	if ((rc = backend_reserve(&be, path, pool->size, cfg->numa_node)) ||
	    (rc = map_pool(&be, pool)) ||
	    (rc = check_absent("root token file", root_path)) ||
	    (rc = crypto_key_generate(&pool->key)))
		goto fail;
	if ((rc = crypto_key_save(&pool->key, key_path, file_created ? cfg->group : -1)))
		goto fail;
	key_created = 1;
	if (be.existing && (rc = save_medium(pool, &saved)))
		goto fail;
	/* From here on the medium changes: a failure puts it back. */
	written = 1;
	clear_metadata(pool);
	if ((rc = write_superblock(pool)) || (rc = registry_bind(pool)))
		goto fail;
	if ((rc = hosts_claim(&pool->registry, cfg->host_id, &pool->host_id, &pool->epoch)) ||
	    (rc = protect_pool(pool)) ||
	    (rc = mint_root_token(pool, root_path)))
		goto fail;
	root_created = 1;
	if ((rc = beat_start(pool)))
		goto fail;
	backend_close(&be);
	if ((rc = harden_pool(pool, cfg)))
		goto fail;
	free(saved);
	*out = pool;
	return 0;

fail:
	/* Keep the message of the failure, not of the clean-up. */
	backend_close(&be);
	if (written && saved)
		restore_medium(pool, saved);
	free(saved);
	if (root_created)
		unlink(root_path);
	if (key_created)
		unlink(key_path);
	if (file_created)
		unlink(path);
	pool_free(pool);
	return error_wrap(rc, "create %s", path);
}

/* Opens and verifies a pool's superblock; with `key_path` also its key. */
static int open_verified(const char *path, int writable, const char *key_path,
			 struct backend *be, struct superblock *sb, int *from_backup,
			 struct pool_key *key)
{
	int rc = backend_open(path, writable, be);
	if (rc)
		return rc;
	if ((rc = superblock_read(be, sb, from_backup)))
		goto fail;
	if (key_path) {
		if ((rc = crypto_key_load(key, key_path, be->gid)) ||
		    (rc = superblock_verify_key(sb, key)))
			goto fail;
	}
	return 0;
fail:
	backend_close(be);
	return rc;
}

int shmemora_attach(const char *path, const shmemora_config *cfg_in, shmemora_pool **out)
{
	error_clear();
	if (!path || !*path || !out)
		return error_set(SHMEMORA_E_INVALID, "attach: path and out are required");
	const struct shmemora_config *cfg = config_or_default(cfg_in);
	char key_path[PATH_MAX];
	int rc = config_key_path(cfg, path, key_path, sizeof key_path);
	if (rc)
		return rc;
	struct shmemora_pool *pool;
	if ((rc = pool_alloc(path, &pool)))
		return rc;
	struct backend be = { .fd = -1 };
	if ((rc = open_verified(path, 1, key_path, &be, &pool->sb, &pool->sb_from_backup,
				&pool->key)))
		goto fail;
	pool->size = pool->sb.pool_size;
	pool->backend = be.kind;
	pool->page_size = be.page_size;
	if ((rc = coherence_init(&pool->coh, (int)pool->sb.coherence)) ||
	    (rc = map_pool(&be, pool)))
		goto fail;
	backend_close(&be);
	if ((rc = registry_bind(pool)))
		goto fail;
	pool->observer = cfg->observer;
	if (pool->observer) {
		pool->host_id = UINT32_MAX;
		if ((rc = protect_pool(pool)) || (rc = harden_pool(pool, cfg)))
			goto fail;
		*out = pool;
		return 0;
	}
	if ((rc = hosts_claim(&pool->registry, cfg->host_id, &pool->host_id, &pool->epoch)))
		goto fail;
	if ((rc = protect_pool(pool)) || (rc = beat_start(pool)) ||
	    (rc = harden_pool(pool, cfg))) {
		protect_saved s = protect_open(&pool->prot);
		hosts_release(&pool->registry, pool->host_id, pool->epoch);
		protect_close(&pool->prot, s);
		goto fail;
	}
	*out = pool;
	return 0;
fail:
	backend_close(&be);
	pool_free(pool);
	return error_wrap(rc, "%s", path);
}

int shmemora_detach(shmemora_pool *pool)
{
	error_clear();
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "detach: pool is NULL");
	/* The thread stops first: nothing beats for a slot we give back. */
	beat_stop(pool);
	int rc = 0;
	if (!pool->observer) {
		protect_saved saved = protect_open(&pool->prot);
		/* Our blocks and extents go back while the slot is still ours,
		 * and this thread's last counts join the host's. */
		if (!protect_forked(&pool->prot) && pool_may_write(pool) == 0) {
			alloc_release_host(&pool->heap, pool->host_id);
			pool_share_contention(pool, true);
		}
		rc = hosts_release(&pool->registry, pool->host_id, pool->epoch);
		protect_close(&pool->prot, saved);
	}
	pool_free(pool);
	return rc;
}

int shmemora_heartbeat(shmemora_pool *pool)
{
	if (!pool)
		return error_set(SHMEMORA_E_INVALID, "heartbeat: pool is NULL");
	if (pool->observer)
		return error_set(SHMEMORA_E_READ_ONLY, "heartbeat: an observer holds no host slot");
	protect_saved saved = protect_open(&pool->prot);
	int rc = hosts_heartbeat(&pool->registry, pool->host_id, pool->epoch);
	protect_close(&pool->prot, saved);
	return rc;
}

uint32_t shmemora_host_id(const shmemora_pool *pool)
{
	return pool ? pool->host_id : UINT32_MAX;
}

/* Reads the registry of an unattached pool into a private copy. */
static int read_registry(const struct backend *be, const struct superblock *sb,
			 struct host_slot **slots)
{
	uint64_t len = (uint64_t)sb->max_hosts * sizeof(struct host_slot), got;
	*slots = malloc((size_t)len);
	if (!*slots)
		return error_set(SHMEMORA_E_NOMEM, "out of memory reading the host registry");
	int rc = backend_read(be, sb->region[REGION_REGISTRY].offset, *slots, len, &got);
	if (rc == 0 && got != len)
		rc = error_set(SHMEMORA_E_IO, "cannot read the host registry: short read");
	if (rc) {
		free(*slots);
		*slots = NULL;
	}
	return rc;
}

/* Counts live hosts of an unattached pool from a one-shot private copy:
 * hosts on other machines count as live (nobody watched them). */
static int count_live_hosts(const struct backend *be, const struct superblock *sb,
			    uint32_t *live)
{
	struct host_slot *slots;
	struct registry reg;
	int rc = read_registry(be, sb, &slots);
	if (rc)
		return rc;
	if ((rc = registry_init(&reg, slots, sb->max_hosts, sb->lease_ms)) == 0) {
		*live = hosts_live_count(&reg, NULL);
		registry_fini(&reg);
	}
	free(slots);
	return rc;
}

/* Counts live hosts on the live registry, watching undecided slots (other
 * machines' hosts) for up to a lease first: what destroy needs. */
static int count_live_hosts_watched(const struct backend *be, const struct superblock *sb,
				    uint32_t *live)
{
	uint8_t *base;
	struct registry reg;
	int rc = backend_map(be, sb->pool_size, 0, (void **)&base);
	if (rc)
		return rc;
	if ((rc = registry_init(&reg, (struct host_slot *)(base + sb->region[REGION_REGISTRY].offset),
				sb->max_hosts, sb->lease_ms)) == 0) {
		hosts_watch(&reg, -1);
		*live = hosts_live_count(&reg, NULL);
		registry_fini(&reg);
	}
	backend_unmap(base, sb->pool_size);
	return rc;
}

static void fill_info(const struct superblock *sb, enum shmemora_backend backend,
		      uint32_t page_size, shmemora_info *out)
{
	memset(out, 0, sizeof *out);
	out->format_version = sb->format_version;
	memcpy(out->uuid, sb->uuid, sizeof out->uuid);
	memcpy(out->key_id, sb->key_id, sizeof out->key_id);
	out->size = sb->pool_size;
	out->created_unix_ns = sb->created_unix_ns;
	out->alignment = sb->alignment;
	out->page_size = page_size;
	out->backend = backend;
	out->coherence = (enum shmemora_coherence)sb->coherence;
	out->max_hosts = sb->max_hosts;
	out->lease_ms = sb->lease_ms;
	out->max_key = sb->max_key;
	out->max_value = sb->max_value;
	out->capabilities = sb->cap_entries;
	out->index_slots = sb->index_slots;
	out->namespaces = sb->ns_entries;
	out->extent_size = sb->extent_size;
	out->extents = sb->region[REGION_DATA].size / sb->extent_size;
	out->size_class_count = sb->size_class_count;
	memcpy(out->size_classes, sb->size_class, sizeof out->size_classes);
	for (int r = 0; r < REGION_COUNT; r++) {
		out->region_offset[r] = sb->region[r].offset;
		out->region_size[r] = sb->region[r].size;
	}
	out->protection = shmemora_protection_available();
	out->flush_instruction = coherence_insn_name(coherence_best_writeback());
}

int shmemora_pool_info(const shmemora_pool *pool, shmemora_info *out)
{
	error_clear();
	if (!pool || !out)
		return error_set(SHMEMORA_E_INVALID, "pool_info: pool and out are required");
	fill_info(&pool->sb, pool->backend, pool->page_size, out);
	out->sb_from_backup = pool->sb_from_backup;
	out->key_verified = 1;
	protect_saved saved = protect_open(&pool->prot);
	out->hosts_attached = hosts_live_count(&pool->registry, NULL);
	protect_close(&pool->prot, saved);
	out->protection = pool->prot.mode;
	return 0;
}

int shmemora_inspect(const char *path, const char *key_file, shmemora_info *out)
{
	error_clear();
	if (!path || !out)
		return error_set(SHMEMORA_E_INVALID, "inspect: path and out are required");
	char key_path[PATH_MAX];
	struct shmemora_config cfg = *config_or_default(NULL);
	cfg.key_file = (char *)key_file;
	int rc = config_key_path(&cfg, path, key_path, sizeof key_path);
	if (rc)
		return rc;
	/* The key is optional here: check it when a key file is there (or was
	 * named), skip it when the default one is simply absent. */
	int use_key = key_file || access(key_path, F_OK) == 0;
	struct backend be;
	struct superblock sb;
	struct pool_key key;
	int from_backup;
	if ((rc = open_verified(path, 0, use_key ? key_path : NULL, &be, &sb, &from_backup,
				&key)))
		return error_wrap(rc, "%s", path);
	crypto_wipe(&key, sizeof key);
	fill_info(&sb, be.kind, be.page_size, out);
	out->sb_from_backup = from_backup;
	out->key_verified = use_key;
	rc = count_live_hosts(&be, &sb, &out->hosts_attached);
	backend_close(&be);
	return rc;
}

int shmemora_hosts(const char *path, shmemora_host *hosts, size_t cap, size_t *count)
{
	error_clear();
	if (!path || !count || (cap && !hosts))
		return error_set(SHMEMORA_E_INVALID, "hosts: path, count and hosts are required");
	struct backend be;
	struct superblock sb;
	int from_backup;
	int rc = open_verified(path, 0, NULL, &be, &sb, &from_backup, NULL);
	if (rc)
		return error_wrap(rc, "%s", path);
	struct host_slot *slots;
	struct registry reg;
	if ((rc = read_registry(&be, &sb, &slots)) == 0) {
		if ((rc = registry_init(&reg, slots, sb.max_hosts, sb.lease_ms)) == 0) {
			for (uint32_t i = 0; i < sb.max_hosts && i < cap; i++)
				hosts_describe(&reg, i, NULL, &hosts[i]);
			*count = sb.max_hosts;
			registry_fini(&reg);
		}
		free(slots);
	}
	backend_close(&be);
	return rc;
}

/* Zeroes both superblock copies of a device or FILE@OFFSET through the
 * mapping (device-DAX has no write(2)). */
static int wipe_superblocks(const char *path, const struct superblock *sb)
{
	struct backend be;
	int rc = backend_open(path, 1, &be);
	if (rc)
		return rc;
	uint64_t len = align_up(SB_BACKUP_OFFSET + sizeof(struct superblock), be.alignment);
	uint8_t *base;
	struct coherence coh;
	if ((rc = coherence_init(&coh, (int)sb->coherence)) == 0 &&
	    (rc = backend_map(&be, len, 1, (void **)&base)) == 0) {
		/* All of it superblock: none of it sync area. */
		if ((rc = coherence_model_map(&coh, base, len, len, len, be.fd, be.offset)) == 0) {
			memset(base + SB_PRIMARY_OFFSET, 0, sizeof(struct superblock));
			memset(base + SB_BACKUP_OFFSET, 0, sizeof(struct superblock));
			coherence_writeback(&coh, base + SB_PRIMARY_OFFSET, sizeof(struct superblock));
			coherence_writeback(&coh, base + SB_BACKUP_OFFSET, sizeof(struct superblock));
			rc = backend_sync(be.kind, base, len);
			coherence_model_unmap(&coh);
		}
		backend_unmap(base, len);
	}
	backend_close(&be);
	return rc ? error_wrap(rc, "cannot wipe the superblocks of %s", path) : 0;
}

int shmemora_destroy(const char *path, const shmemora_config *cfg_in)
{
	error_clear();
	if (!path || !*path)
		return error_set(SHMEMORA_E_INVALID, "destroy: path is required");
	const struct shmemora_config *cfg = config_or_default(cfg_in);
	char key_path[PATH_MAX], root_path[PATH_MAX];
	int rc = config_secret_paths(cfg, path, key_path, root_path);
	if (rc)
		return rc;
	struct backend be;
	struct superblock sb;
	struct pool_key key;
	int from_backup;
	if ((rc = open_verified(path, 0, key_path, &be, &sb, &from_backup, &key)))
		return error_wrap(rc, "destroy %s", path);
	crypto_wipe(&key, sizeof key);
	uint32_t live = 0;
	rc = count_live_hosts_watched(&be, &sb, &live);
	int existing = be.existing;
	backend_close(&be);
	if (rc)
		return error_wrap(rc, "destroy %s", path);
	if (live && !cfg->force)
		return error_set(SHMEMORA_E_BUSY, "destroy %s: %u host(s) still attached; detach "
				 "them (see 'shmemora hosts %s') or use --force", path, live, path);
	if (existing) {
		if ((rc = wipe_superblocks(path, &sb)))
			return error_wrap(rc, "destroy %s", path);
	} else if (unlink(path) != 0) {
		return error_set(SHMEMORA_E_IO, "destroy %s: %s", path, strerror(errno));
	}
	if (unlink(root_path) != 0 && errno != ENOENT)
		return error_set(SHMEMORA_E_IO, "destroyed %s, but could not remove root token file "
				 "%s: %s", path, root_path, strerror(errno));
	if (unlink(key_path) != 0 && errno != ENOENT)
		return error_set(SHMEMORA_E_IO, "destroyed %s, but could not remove key file %s: %s",
				 path, key_path, strerror(errno));
	return 0;
}

const char *shmemora_coherence_name(enum shmemora_coherence mode)
{
	return mode == SHMEMORA_FLUSH ? "flush" : mode == SHMEMORA_COHERENT ? "coherent" : "?";
}

const char *shmemora_backend_name(enum shmemora_backend backend)
{
	switch (backend) {
	case SHMEMORA_BACKEND_FILE: return "file";
	case SHMEMORA_BACKEND_HUGETLBFS: return "hugetlbfs";
	case SHMEMORA_BACKEND_DEVDAX: return "devdax";
	}
	return "?";
}

const char *shmemora_protection_name(enum shmemora_protection mode)
{
	return mode == SHMEMORA_PROTECT_MPK ? "mpk" : "software";
}

const char *shmemora_host_state_name(enum shmemora_host_state state)
{
	switch (state) {
	case SHMEMORA_HOST_FREE: return "free";
	case SHMEMORA_HOST_CLAIMING: return "claiming";
	case SHMEMORA_HOST_ATTACHED: return "attached";
	case SHMEMORA_HOST_DEAD: return "dead";
	}
	return "?";
}

int shmemora_set_verify(shmemora_pool *pool, enum shmemora_verify policy)
{
	error_clear();
	if (!pool || (policy != SHMEMORA_VERIFY_CACHED && policy != SHMEMORA_VERIFY_ALWAYS &&
		      policy != SHMEMORA_VERIFY_OFF))
		return error_set(SHMEMORA_E_INVALID, "set_verify: bad pool or policy");
	/* Relaxed: each verification reads the policy once; one that started
	 * before this store may still use the old one. */
	atomic_store_explicit(&pool->prot.verify, (int)policy, memory_order_relaxed);
	return 0;
}

enum shmemora_protection shmemora_protection_mode(const shmemora_pool *pool)
{
	return pool ? pool->prot.mode : SHMEMORA_PROTECT_SOFTWARE;
}
