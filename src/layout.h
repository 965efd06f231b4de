/*
 * layout.h — the on-media format: every structure stored in the pool, and the
 * geometry that places the regions.  docs/pool-format.md mirrors this file
 * byte for byte; the _Static_asserts below pin what that document promises.
 *
 * The pool is one contiguous range addressed by 64-bit offsets from its base
 * (hosts map it at different addresses; nothing stored is a pointer).  It has
 * three parts:
 *
 *   superblock   [primary at 0, backup at 4096]                  region 0
 *   sync area    the words that hosts change with atomic read-modify-write
 *                (compare-and-swap, fetch-and-add):
 *                  host registry: one 64-byte line per host        region 1
 *                  capability sync words: 32 bytes per token       region 2
 *                  namespace table: one 64-byte line per namespace region 3
 *                  KV index: 8-byte slots in 64-byte buckets       region 4
 *                  heap: per-host counters, then one 64-byte
 *                  record per data extent (owner, class, live
 *                  blocks, free list head, bump pointer)           region 5
 *   data area    everything else, written with plain stores:
 *                  capability entries: one 64-byte line per token  region 6
 *                  data extents: KV entries, in extents that hosts
 *                  claim on demand and give back when empty        region 7
 *                  raw area: the raw region API's bytes            region 8
 *
 * Cross-host atomics need memory that is coherent between hosts.  Keeping
 * those words together lets a deployment without cross-host coherence (CXL
 * 2.0 sharing, `flush` mode) back just the sync area with coherent or
 * uncached memory; the data area is kept consistent by cache-line write-back
 * and invalidation (coherence.h, docs/coherence.md).
 *
 * Each region starts on the pool's alignment (4 KiB; the page size on
 * hugetlbfs; 2 MiB on devdax).  Fields are fixed-width little-endian.
 *
 * The geometry is never trusted as stored: layout_check() re-plans it from
 * the superblock's parameters with the same function that planned it at
 * create time, and refuses any difference, so a reader can follow region
 * offsets without further bounds reasoning.
 */
#ifndef SHMEMORA_LAYOUT_H
#define SHMEMORA_LAYOUT_H

#include "shmemora.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "SHMemora's pool format is little-endian; this host is not"
#endif

#define SB_MAGIC "SHMEMORA"               /* 8 bytes, no terminator stored */
#define SB_PRIMARY_OFFSET 0
#define SB_BACKUP_OFFSET 4096
#define SB_COPY_SPAN 4096                 /* each copy owns one 4 KiB page */
#define CACHE_LINE 64
#define SIZE_CLASSES_MAX 40
#define MIN_ALIGNMENT 4096u

#define DEFAULT_POOL_SIZE (1ULL << 30)
#define MAX_POOL_SIZE (1ULL << 42)        /* 4 TiB: what 64-byte references reach */
#define DEFAULT_HOSTS 8u
#define MAX_HOSTS SHMEMORA_MAX_HOSTS
#define DEFAULT_MAX_KEY 1024u
#define DEFAULT_MAX_VALUE (1u << 20)
#define MAX_VALUE_LIMIT SHMEMORA_MAX_VALUE_LIMIT /* keeps the size classes within 40 */
#define MAX_KEY_LIMIT SHMEMORA_MAX_KEY_LIMIT
#define DEFAULT_LEASE_MS 30000u
#define MAX_CAPABILITIES (1ULL << 24)
#define MAX_INDEX_SLOTS (1ULL << 34)
#define MIN_INDEX_SLOTS 8u                /* one bucket */
#define MAX_NAMESPACES (1u << 20)
#define ENTRY_HEADER_BYTES 64u            /* struct kv_entry */
#define MIN_EXTENT_BYTES (64u << 10)
#define MAX_EXTENTS (1u << 16)           /* extents grow with the pool past this many */
#define MAX_TOKEN_DEPTH 15u               /* derivation levels below a root token */

enum region_id {
	REGION_SUPERBLOCK = 0,
	REGION_REGISTRY = 1,
	REGION_CAPSYNC = 2,
	REGION_NAMESPACES = 3,
	REGION_INDEX = 4,
	REGION_HEAP = 5,
	REGION_CAPTABLE = 6,
	REGION_DATA = 7,
	REGION_RAW = 8,
	REGION_COUNT = 9,
};
#define REGION_SYNC_FIRST REGION_REGISTRY
#define REGION_SYNC_LAST REGION_HEAP

struct layout_region {
	uint64_t offset;
	uint64_t size;
};

/* The superblock: 512 bytes, primary at offset 0 and backup at 4096. */
struct superblock {
	uint8_t magic[8];                 /*   0 "SHMEMORA" */
	uint32_t format_version;          /*   8 stays at this offset in every version */
	uint32_t sb_size;                 /*  12 sizeof(struct superblock) */
	uint8_t uuid[16];                 /*  16 random at create */
	uint8_t key_id[16];               /*  32 fingerprint of the pool key */
	uint64_t pool_size;               /*  48 bytes */
	uint64_t created_unix_ns;         /*  56 */
	uint32_t alignment;               /*  64 region alignment */
	uint32_t page_size;               /*  68 backing page size at create */
	uint32_t coherence;               /*  72 0 coherent, 1 flush */
	uint32_t backend;                 /*  76 enum shmemora_backend at create */
	uint32_t max_hosts;               /*  80 */
	uint32_t lease_ms;                /*  84 */
	uint32_t max_key;                 /*  88 */
	uint32_t max_value;               /*  92 */
	uint64_t cap_entries;             /*  96 */
	uint64_t index_slots;             /* 104 power of two */
	uint64_t extent_size;             /* 112 power of two */
	uint32_t ns_entries;              /* 120 namespace table records */
	uint32_t size_class_count;        /* 124 */
	uint32_t size_class[SIZE_CLASSES_MAX]; /* 128 ascending entry sizes */
	struct layout_region region[REGION_COUNT]; /* 288 */
	uint64_t raw_size;                /* 432 bytes of the raw area (may be 0) */
	uint32_t flags;                   /* 440 zero in version 3 */
	uint8_t reserved[28];             /* 444 zero */
	uint8_t mac[32];                  /* 472 HMAC-SHA256(key, bytes 0..471) */
	uint64_t checksum;                /* 504 XXH3-64(bytes 0..503) */
};

_Static_assert(sizeof(struct superblock) == 512, "superblock is 512 bytes");
_Static_assert(offsetof(struct superblock, format_version) == 8, "version at 8");
_Static_assert(offsetof(struct superblock, pool_size) == 48, "pool_size at 48");
_Static_assert(offsetof(struct superblock, ns_entries) == 120, "namespaces at 120");
_Static_assert(offsetof(struct superblock, size_class) == 128, "classes at 128");
_Static_assert(offsetof(struct superblock, region) == 288, "regions at 288");
_Static_assert(offsetof(struct superblock, raw_size) == 432, "raw size at 432");
_Static_assert(offsetof(struct superblock, flags) == 440, "flags at 440");
_Static_assert(offsetof(struct superblock, mac) == 472, "mac at 472");
_Static_assert(offsetof(struct superblock, checksum) == 504, "checksum at 504");

/*
 * One host slot (sync area): a cache line.  `owner` is the only word changed by
 * compare-and-swap; it packs the slot state (bits 0-1), the epoch (bits
 * 2-31, bumped by every claim) and bits 32-63: the holder's heartbeat
 * counter while ATTACHED (observers watch it for change against their own
 * clock; format 1 kept a wall-clock time here), the claimer's ticket while
 * CLAIMING.  The identity fields are written by the claimer between its
 * CLAIMING and ATTACHED transitions.  `heartbeat_ns` is the holder's wall
 * clock at its last beat, for people to read; no verdict uses it.
 */
struct host_slot {
	_Atomic uint64_t owner;           /*  0 */
	uint32_t pid;                     /*  8 */
	uint32_t reserved0;               /* 12 */
	uint64_t pid_start_ticks;         /* 16 /proc/PID/stat field 22 */
	uint64_t pidns_inode;             /* 24 inode of /proc/PID/ns/pid */
	uint8_t boot_id[16];              /* 32 /proc/sys/kernel/random/boot_id */
	_Atomic uint64_t heartbeat_ns;    /* 48 CLOCK_REALTIME of the holder: display only */
	uint64_t reserved1;               /* 56 */
};
_Static_assert(sizeof(struct host_slot) == CACHE_LINE, "host slot is one line");
_Static_assert(offsetof(struct host_slot, heartbeat_ns) == 48, "heartbeat at 48");

/*
 * A capability's sync words (sync area, 32 bytes; two per line).  `state`
 * is changed only by compare-and-swap; captable.h owns its encoding (state,
 * minting host, generation).  `used` counts what this token's descendants
 * hold against its quota.  `tomb` is the id of the token revoked in this
 * slot: a revocation is two words (state and tomb), so writing back one
 * old word never revives a token, and a late tomb write can never hit a
 * token minted later in the same slot, whose id differs.
 */
struct cap_sync {
	_Atomic uint64_t state;           /*  0 */
	_Atomic uint64_t used;            /*  8 */
	_Atomic uint64_t tomb;            /* 16 */
	uint64_t reserved;                /* 24 zero */
};
_Static_assert(sizeof(struct cap_sync) == 32, "capability sync words are 32 bytes");

/*
 * A capability's fields (data area): one cache line, written only while its
 * sync state is MINTING.  The token's tag is never stored: it is an HMAC
 * over these fields and the generation.  `lineage` is a keyed hash of the
 * ids of every ancestor, root first, so the chain a token hangs from cannot
 * be edited without the key.
 */
struct cap_entry {
	uint64_t id;                      /*  0 random high 40 bits | slot index */
	uint64_t a;                       /*  8 region offset | namespace hash */
	uint64_t b;                       /* 16 region length | key hash */
	uint64_t expires_ns;              /* 24 CLOCK_REALTIME, 0 = never */
	uint64_t parent_id;               /* 32 0 = none (a root token) */
	uint64_t lineage;                 /* 40 keyed hash of the ancestors' ids */
	uint32_t quota;                   /* 48 tokens its descendants may hold */
	uint32_t ns_gen;                  /* 52 namespace incarnation (ns, key scopes) */
	uint32_t reserved;                /* 56 zero */
	uint16_t owner_host;              /* 60 host that minted it */
	uint8_t rights;                   /* 62 enum shmemora_right bits */
	uint8_t scope_depth;              /* 63 scope (bits 0-3), depth (bits 4-7) */
};
_Static_assert(sizeof(struct cap_entry) == CACHE_LINE, "capability entry is one line");
_Static_assert(offsetof(struct cap_entry, quota) == 48, "quota at 48");
_Static_assert(MAX_TOKEN_DEPTH < 16, "depth fits its four bits");
_Static_assert(MAX_HOSTS <= UINT16_MAX + 1u, "owner_host fits 16 bits");

/*
 * A namespace record (sync area): one cache line.  `state` is changed only
 * by compare-and-swap; nstable.h owns its encoding (state, incarnation,
 * whether usage is counted).  A record is bound to one namespace hash for
 * good once claimed, so probe sequences never break.
 */
struct ns_record {
	_Atomic uint64_t state;           /*  0 */
	_Atomic uint64_t ns_hash;         /*  8 0 = never used */
	_Atomic uint64_t keys;            /* 16 counted keys (when limits are on) */
	_Atomic uint64_t bytes;           /* 24 counted key + value bytes */
	_Atomic uint64_t max_keys;        /* 32 0 = no limit */
	_Atomic uint64_t max_bytes;       /* 40 0 = no limit */
	uint64_t reserved[2];             /* 48 zero */
};
_Static_assert(sizeof(struct ns_record) == CACHE_LINE, "namespace record is one line");

/*
 * The heap region (sync area) holds one heap_header per host, then one
 * extent_record per extent of the data region.
 *
 * A host's header holds counters its host adds to in batches: statistics
 * that no decision reads.
 */
struct heap_header {
	_Atomic uint64_t writes;          /*   0 publishing operations */
	_Atomic uint64_t index_retries;   /*   8 index CASes that lost a race */
	_Atomic uint64_t alloc_retries;   /*  16 allocator CASes that lost a race */
	_Atomic uint64_t free_retries;    /*  24 free-path CASes that lost a race */
	_Atomic uint64_t remote_frees;    /*  32 blocks freed into other hosts' extents */
	_Atomic uint64_t extent_claims;   /*  40 extents this host claimed */
	_Atomic uint64_t extent_returns;  /*  48 extents given back (by anyone) */
	uint64_t reserved;                /*  56 zero */
};
#define HEAP_HEADER_BYTES 64u
_Static_assert(sizeof(struct heap_header) == HEAP_HEADER_BYTES, "heap header size");

/*
 * One extent of the data region (sync area, heap region): a cache line of
 * its own, so extents never share a contended line.  `state` packs the
 * owner, the size class, the held bit, a generation and the count of
 * blocks out of the extent's free list (alloc.h owns the encoding);
 * `free_head` is the extent's free list (a tagged block reference); `bump`
 * the bytes carved from the extent's start.  An extent holds blocks of one
 * size class only.
 */
struct extent_record {
	_Atomic uint64_t state;           /*  0 */
	_Atomic uint64_t free_head;       /*  8 */
	_Atomic uint64_t bump;            /* 16 */
	uint64_t reserved[5];             /* 24 zero */
};
_Static_assert(sizeof(struct extent_record) == CACHE_LINE, "an extent record is one line");

/*
 * A key-value entry (data area): this 64-byte header, the key, then the
 * value, in one size-class block of an extent.  entry.h owns the protocol:
 * `seq` is the entry's seqlock word (odd while the block is free or being
 * rebuilt, even once built; every transition changes it), and `mac` is a
 * keyed SipHash over the block's offset, the other header fields (the
 * nonce included) and the key, so a host without the pool key cannot forge
 * or move an entry, and no two builds of one block share a MAC.
 */
struct kv_entry {
	_Atomic uint64_t seq;             /*  0 */
	uint64_t free_link;               /*  8 next free block, while on a free list */
	uint64_t ns_hash;                 /* 16 namespace (keyed hash) */
	uint64_t version;                 /* 24 the key's version: 1 on insert, +1 per change */
	uint32_t key_len;                 /* 32 */
	uint32_t value_len;               /* 36 */
	uint32_t ns_gen;                  /* 40 the namespace's incarnation */
	uint32_t owner_epoch;             /* 44 the epoch of the host that built it */
	uint16_t owner_host;              /* 48 the host that built it */
	uint8_t size_class;               /* 50 index into the superblock's classes */
	uint8_t flags;                    /* 51 zero */
	uint32_t nonce;                   /* 52 random per build: no two builds of a block alike */
	uint64_t mac;                     /* 56 */
	/* 64: key bytes, then value bytes */
};
_Static_assert(sizeof(struct kv_entry) == ENTRY_HEADER_BYTES, "entry header is 64 bytes");
_Static_assert(offsetof(struct kv_entry, mac) == 56, "entry mac at 56");

/* What a caller asks for; zero means "default". */
struct geometry_request {
	uint64_t pool_size;
	uint32_t alignment;
	uint32_t max_hosts;
	uint64_t cap_entries;
	uint64_t index_slots;
	uint32_t ns_entries;
	uint32_t max_key;
	uint32_t max_value;
	uint64_t raw_size;      /* used when raw_size_set; else pool_size / 64 */
	int raw_size_set;
};

/*
 * Plans the regions, extent size and size classes for `req` into the
 * geometry fields of `sb` (pool_size, alignment, max_hosts, cap_entries,
 * index_slots, ns_entries, max_key, max_value, extent_size, region[],
 * size classes).  Returns SHMEMORA_E_GEOMETRY with a message saying what
 * would fit.
 */
int layout_plan(const struct geometry_request *req, struct superblock *sb);

/*
 * Re-plans the geometry stored in `sb` and refuses (E_CORRUPT) any field that
 * differs from what layout_plan() gives for its parameters, or any parameter
 * out of range.  After it succeeds, every region lies inside the pool.
 */
int layout_check(const struct superblock *sb);

/* Minimal pool size for `hosts` hosts at `alignment`, with defaults. */
uint64_t layout_min_size(uint32_t hosts, uint32_t alignment);

/* Alignment helpers. */
static inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static inline uint64_t align_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }
static inline int is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

#endif
