/*
 * layout.h — the on-media format: every structure stored in the pool, and the
 * geometry that places the regions.  docs/pool-format.md mirrors this file
 * byte for byte; the _Static_asserts below pin what that document promises.
 *
 * The pool is one contiguous range addressed by 64-bit offsets from its base
 * (hosts map it at different addresses; nothing stored is a pointer):
 *
 *   [superblock: primary at 0, backup at 4096]  region 0
 *   [host registry: one 64-byte line per host]  region 1
 *   [capability table: one 64-byte line/token]  region 2
 *   [KV index: 8-byte slots, 64-byte buckets]   region 3
 *   [data partitions: one per host slot]        region 4
 *   [raw area: the raw region API's bytes]      region 5
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
#define DEFAULT_HOSTS 8u
#define MAX_HOSTS 4096u
#define DEFAULT_MAX_KEY 1024u
#define DEFAULT_MAX_VALUE (1u << 20)
#define MAX_VALUE_LIMIT (32u << 20)       /* keeps the size classes within 40 */
#define MAX_KEY_LIMIT (64u << 10)
#define DEFAULT_LEASE_MS 30000u
#define MAX_CAPABILITIES (1ULL << 24)
#define MAX_INDEX_SLOTS (1ULL << 34)
#define INDEX_SLOTS_PER_BUCKET 8
#define PARTITION_HEADER_BYTES 4096u      /* free-list heads etc. (KV issue) */
#define ENTRY_OVERHEAD_BYTES 64u          /* budget for an entry's header */
#define MIN_PARTITION_BYTES (64u << 10)

enum region_id {
	REGION_SUPERBLOCK = 0,
	REGION_REGISTRY = 1,
	REGION_CAPTABLE = 2,
	REGION_INDEX = 3,
	REGION_PARTITIONS = 4,
	REGION_RAW = 5,
	REGION_COUNT = 6,
};

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
	uint64_t partition_size;          /* 112 */
	struct layout_region region[REGION_COUNT]; /* 120 */
	uint32_t size_class_count;        /* 216 */
	uint32_t size_class[SIZE_CLASSES_MAX]; /* 220 ascending entry sizes */
	uint32_t flags;                   /* 380 zero in version 1 */
	uint64_t raw_size;                /* 384 bytes of the raw area (may be 0) */
	uint8_t reserved[80];             /* 392 zero */
	uint8_t mac[32];                  /* 472 HMAC-SHA256(key, bytes 0..471) */
	uint64_t checksum;                /* 504 XXH3-64(bytes 0..503) */
};

_Static_assert(sizeof(struct superblock) == 512, "superblock is 512 bytes");
_Static_assert(offsetof(struct superblock, format_version) == 8, "version at 8");
_Static_assert(offsetof(struct superblock, pool_size) == 48, "pool_size at 48");
_Static_assert(offsetof(struct superblock, region) == 120, "regions at 120");
_Static_assert(offsetof(struct superblock, size_class_count) == 216, "classes at 216");
_Static_assert(offsetof(struct superblock, flags) == 380, "flags at 380");
_Static_assert(offsetof(struct superblock, raw_size) == 384, "raw size at 384");
_Static_assert(offsetof(struct superblock, mac) == 472, "mac at 472");
_Static_assert(offsetof(struct superblock, checksum) == 504, "checksum at 504");

/*
 * One host slot: a cache line.  `owner` is the only word changed by
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
 * One capability table entry: a cache line.  `state` is the only word
 * changed by compare-and-swap: bits 0-1 the state (enum cap_state), bits
 * 2-13 the host that minted it, bits 14-63 the generation, bumped by every
 * transition except publish, so a tag minted for one generation never
 * verifies for another.  The other fields are written only while the entry
 * is MINTING and read under the seqlock protocol of token.c.  The token's tag
 * is never stored.
 */
struct cap_entry {
	_Atomic uint64_t state;           /*  0 */
	uint64_t id;                      /*  8 random high 40 bits | slot index */
	uint64_t a;                       /* 16 region offset | namespace hash */
	uint64_t b;                       /* 24 region length | key hash */
	uint64_t expires_ns;              /* 32 CLOCK_REALTIME, 0 = never */
	uint64_t parent_id;               /* 40 0 = none (a root token) */
	uint32_t rights;                  /* 48 enum shmemora_right bits */
	uint16_t scope;                   /* 52 enum shmemora_scope */
	uint16_t owner_host;              /* 54 host that minted it */
	uint64_t reserved;                /* 56 zero */
};
_Static_assert(sizeof(struct cap_entry) == CACHE_LINE, "capability entry is one line");
_Static_assert(offsetof(struct cap_entry, rights) == 48, "rights at 48");

/*
 * The header of each host's data partition (its first 4096 bytes).  Only
 * the owning host allocates; any host frees, by pushing onto the owner's
 * list.  A list head packs a 30-bit tag (bumped on every change, against
 * ABA) above the entry's partition-relative offset in 64-byte units.
 */
struct partition_header {
	_Atomic uint64_t bump;            /*   0 bytes used from the partition start; 0: fresh */
	uint64_t reserved0;               /*   8 */
	_Atomic uint64_t free_head[SIZE_CLASSES_MAX];    /*  16 */
	_Atomic uint64_t allocated[SIZE_CLASSES_MAX];    /* 336 entries in use per class */
};
_Static_assert(sizeof(struct partition_header) <= PARTITION_HEADER_BYTES, "fits its page");

/*
 * A key-value entry: this 40-byte header, the key, then the value, in one
 * size-class block of a partition.  `seq` is the entry's seqlock word: odd
 * while the block is free or being built, even once published; every
 * transition adds one, so a reader that sees the same even value before and
 * after its copy read a whole entry.  When the block is free, `ns_hash` holds
 * the free list's next link.
 */
struct kv_entry {
	_Atomic uint64_t seq;             /*  0 */
	uint64_t ns_hash;                 /*  8 namespace (keyed hash); next link when free */
	uint64_t version;                 /* 16 the key's version: 1 on insert, +1 per change */
	uint32_t key_len;                 /* 24 */
	uint32_t value_len;               /* 28 */
	uint8_t size_class;               /* 32 index into the superblock's classes */
	uint8_t reserved0;                /* 33 */
	uint16_t owner_host;              /* 34 the partition it lives in */
	uint32_t owner_epoch;             /* 36 the epoch of the host that built it */
	/* 40: key bytes, then value bytes */
};
_Static_assert(sizeof(struct kv_entry) == 40, "entry header is 40 bytes");
_Static_assert(sizeof(struct kv_entry) <= ENTRY_OVERHEAD_BYTES, "within the budget");

/* What a caller asks for; zero means "default". */
struct geometry_request {
	uint64_t pool_size;
	uint32_t alignment;
	uint32_t max_hosts;
	uint64_t cap_entries;
	uint64_t index_slots;
	uint32_t max_key;
	uint32_t max_value;
	uint64_t raw_size;      /* used when raw_size_set; else pool_size / 64 */
	int raw_size_set;
};

/*
 * Plans the regions, partition size and size classes for `req` into the
 * geometry fields of `sb` (pool_size, alignment, max_hosts, cap_entries,
 * index_slots, max_key, max_value, partition_size, region[], size classes).
 * Returns SHMEMORA_E_GEOMETRY with a message saying what would fit.
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
