/*
 * shmemora.h — the public API of libshmemora.
 *
 * SHMemora is a protective key-value store for several hosts that share one
 * memory pool: a CXL memory device (devdax) or a file that emulates one (by
 * default under /dev/shm).  Every host maps the whole pool and reads and
 * writes it directly; the library's protected path guards every access.
 *
 * This header is the manual.  Conventions that hold for every call:
 *
 *  - Every function that can fail returns 0 on success or a negative
 *    SHMEMORA_E_* code.  The codes are kept apart from -errno values (they
 *    start at -4000).  shmemora_strerror() names a code; shmemora_errmsg()
 *    gives the detailed message of the calling thread's last failure (which
 *    file, which field, what to do about it).
 *  - The library never prints, exits or aborts.
 *  - A failed call leaves files and pools as they were, unless its
 *    documentation says otherwise.
 *  - Handles (shmemora_pool, shmemora_config) are opaque.  A config may be
 *    shared read-only between threads; a pool handle may be used by several
 *    threads of one process at once, except shmemora_detach(), which must be
 *    the last call on it.
 *  - "Host": one process attached to a pool.  Each attach claims one host
 *    slot of the pool; processes on several machines may share a pool.
 *
 * The on-media format is documented byte for byte in docs/pool-format.md.
 *
 * Caveats (read these before you build on it):
 *
 *  - fork().  The protected arena (per-thread caches, allocator magazines)
 *    and the secrets are MADV_DONTFORK, and the heartbeat thread is not
 *    copied.  A child must not use its parent's handle: every call that
 *    reaches the pool through it returns E_INVALID, and its detach leaves
 *    the parent's slot attached.  Attach the pool again in the child.
 *  - Signal handlers.  With MPK (shmemora_protection_mode() == MPK) the
 *    kernel runs handlers with a PKRU that denies the pool: a handler that
 *    calls into the library works (each call opens the protected path
 *    itself), but one that dereferences a pointer into the pool faults.
 *    The library is not async-signal-safe: do not call it from a handler
 *    that may interrupt a call of the same thread.
 *  - Threads per handle.  The first 256 threads that use a handle get a
 *    slot of their own: a cache of verified tokens and entry MACs, and a
 *    magazine of blocks.  More threads work, without those (slower).  A
 *    thread's slot goes back when it exits; the blocks its magazine held go
 *    back to their extents then, or at detach.
 *  - Threads of its own.  A handle that holds a host slot runs one
 *    heartbeat thread (every lease/8, signals blocked) until detach.
 *  - A killed process leaves what its threads held (blocks in magazines, an
 *    entry being built, a tentative index slot): invisible to readers and
 *    counted out of the free lists until `shmemora check --repair` (or
 *    shmemora_check with SHMEMORA_CHECK_REPAIR) runs while its slot is free.
 *  - MPK is not a sandbox.  It keeps stray loads and stores out of the pool;
 *    code that executes WRPKRU, or maps the pool file again, gets around it.
 *    Hardened mode (shmemora_config_set_hardened) closes the system calls
 *    that do the latter; docs/security.md says what stays open.  In software
 *    mode (no PKU) application code can read and write the pool directly.
 *  - Retries that run out.  A lock-free operation that keeps losing races
 *    on one key (or one extent) gives up with SHMEMORA_E_CONTENDED, never
 *    E_BUSY ("the pool is in use").  Retry it, or spread the load.
 *  - Coherence.  On memory without hardware coherence between hosts, create
 *    the pool with SHMEMORA_FLUSH and back its sync area with
 *    coherent or uncached memory (docs/coherence.md).
 */
#ifndef SHMEMORA_H
#define SHMEMORA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SHMEMORA_API __attribute__((visibility("default")))
#else
#define SHMEMORA_API
#endif

/* ------------------------------------------------------------------------ */
/* Version                                                                   */
/* ------------------------------------------------------------------------ */

#define SHMEMORA_VERSION_MAJOR 0
#define SHMEMORA_VERSION_MINOR 1
#define SHMEMORA_VERSION_PATCH 0

/* The pool format version this library writes and the newest it reads. */
#define SHMEMORA_FORMAT_VERSION 3

/** Returns the library version as "MAJOR.MINOR.PATCH". */
SHMEMORA_API const char *shmemora_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

enum shmemora_error {
	SHMEMORA_OK = 0,
	SHMEMORA_E_INVALID = -4001,       /* bad argument or option value */
	SHMEMORA_E_NOT_FOUND = -4002,     /* pool file (or named item) absent */
	SHMEMORA_E_EXISTS = -4003,        /* creating over an existing pool */
	SHMEMORA_E_NOT_POOL = -4004,      /* the file holds no SHMemora pool */
	SHMEMORA_E_VERSION = -4005,       /* pool of a format this library does not read (newer or older) */
	SHMEMORA_E_TRUNCATED = -4006,     /* file shorter than the pool it holds */
	SHMEMORA_E_CORRUPT = -4007,       /* checksum mismatch in metadata */
	SHMEMORA_E_TAMPERED = -4008,      /* MAC mismatch: edited without the key */
	SHMEMORA_E_KEY = -4009,           /* key file missing, unreadable, malformed or too open */
	SHMEMORA_E_KEY_MISMATCH = -4010,  /* key file belongs to another pool */
	SHMEMORA_E_GEOMETRY = -4011,      /* requested layout does not fit */
	SHMEMORA_E_BAD_PATH = -4012,      /* a directory or unsupported file type */
	SHMEMORA_E_NO_SLOT = -4013,       /* every host slot is held by a live host */
	SHMEMORA_E_BUSY = -4014,          /* live hosts attached (destroy), or being deleted */
	SHMEMORA_E_IO = -4015,            /* a system call failed; errmsg names it */
	SHMEMORA_E_NOMEM = -4016,         /* out of process memory */
	SHMEMORA_E_UNSUPPORTED = -4017,   /* not available on this CPU, kernel or backend */
	SHMEMORA_E_FENCED = -4018,        /* this host's slot was reclaimed by another */
	SHMEMORA_E_TOKEN_MALFORMED = -4019, /* token text mistyped or cut (checksum, form) */
	SHMEMORA_E_TOKEN_REFUSED = -4020, /* forged tag, unknown id, other pool, or edited entry */
	SHMEMORA_E_REVOKED = -4021,       /* token (or an ancestor) was revoked */
	SHMEMORA_E_EXPIRED = -4022,       /* token past its expiry */
	SHMEMORA_E_DENIED = -4023,        /* token lacks the right this operation needs */
	SHMEMORA_E_OUT_OF_SCOPE = -4024,  /* outside the token's region, namespace or key */
	SHMEMORA_E_WIDEN = -4025,         /* derive asked for more than the parent holds */
	SHMEMORA_E_TABLE_FULL = -4026,    /* capability table full: run `shmemora token gc` */
	SHMEMORA_E_NO_SPACE = -4027,      /* the data region, or the index near a key, is full */
	SHMEMORA_E_CONFLICT = -4028,      /* compare-and-swap: the key's version had moved on */
	SHMEMORA_E_TOO_SMALL = -4029,     /* the caller's buffer is smaller than the value */
	SHMEMORA_E_QUOTA = -4030,         /* a token's or namespace's quota would be passed */
	SHMEMORA_E_CONTENDED = -4031,     /* concurrent writers kept changing it: try again */
	SHMEMORA_E_READ_ONLY = -4032,     /* a write through an observer handle */
	SHMEMORA_E_PERMISSION = -4033,    /* this user may not open the pool or its key file */
};

/** Returns a short, static description of an error code (never NULL). */
SHMEMORA_API const char *shmemora_strerror(int err);

/**
 * Returns the calling thread's message for its most recent failed call:
 * what went wrong and, where there is one, what to do about it.  The string
 * stays valid until the thread's next call into the library.  Empty when the
 * thread has not failed yet.
 */
SHMEMORA_API const char *shmemora_errmsg(void);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A config carries the options of shmemora_create() and shmemora_attach().
 * Every option has a default; set only what you need.  The setters validate
 * their argument and return SHMEMORA_E_INVALID for values that can never be
 * right (zero hosts, a negative node); whether a combination fits a pool is
 * decided by shmemora_create().
 */
typedef struct shmemora_config shmemora_config;

enum shmemora_coherence {
	/* Plain loads, stores and atomics: one machine, or CXL 3.x hardware
	 * coherence between hosts.  The default. */
	SHMEMORA_COHERENT = 0,
	/* CXL 2.0 sharing without cross-host coherence: the library writes back
	 * cache lines after writing and invalidates them before reading.
	 * Atomics still assume the metadata regions are coherent. */
	SHMEMORA_FLUSH = 1,
};

/* Limits every pool shares (a pool's own are in shmemora_info). */
#define SHMEMORA_MAX_HOSTS 4096u          /* host slots */
#define SHMEMORA_MAX_KEY_LIMIT 65536u     /* the largest max key a pool may have */
#define SHMEMORA_MAX_VALUE_LIMIT (32u << 20) /* the largest max value */
#define SHMEMORA_NS_NAME_MAX 255          /* bytes in a namespace name */

/** Allocates a config with every default.  Free with shmemora_config_delete(). */
SHMEMORA_API int shmemora_config_new(shmemora_config **out);
/** Frees a config; NULL is accepted. */
SHMEMORA_API void shmemora_config_delete(shmemora_config *cfg);

/** Pool size in bytes (create; default 1 GiB; devdax: the device's size). */
SHMEMORA_API int shmemora_config_set_size(shmemora_config *cfg, uint64_t bytes);
/** Number of host slots, 1..4096 (create; default 8). */
SHMEMORA_API int shmemora_config_set_hosts(shmemora_config *cfg, uint32_t hosts);
/** Coherence mode (create; default SHMEMORA_COHERENT). */
SHMEMORA_API int shmemora_config_set_coherence(shmemora_config *cfg, enum shmemora_coherence mode);
/**
 * Key file (create writes it, attach reads it).  Default: the environment
 * variable SHMEMORA_KEY_FILE when set, else the pool path plus ".key".
 * The string is copied.
 */
SHMEMORA_API int shmemora_config_set_key_file(shmemora_config *cfg, const char *path);
/** Capability table entries (create; default scales with the size, 64 Ki for 1 GiB). */
SHMEMORA_API int shmemora_config_set_capabilities(shmemora_config *cfg, uint64_t entries);
/** KV index slots, rounded up to a power of two (create; default size/256). */
SHMEMORA_API int shmemora_config_set_index_slots(shmemora_config *cfg, uint64_t slots);
/**
 * Namespace table records (create; default scales with the size: 1024 for
 * 1 GiB, at least 64): how many distinct namespace names the pool can ever
 * hold (a deleted name keeps its record, for when it is created again).
 */
SHMEMORA_API int shmemora_config_set_namespaces(shmemora_config *cfg, uint32_t records);
/**
 * Size of the raw area, the bytes the raw region API reaches (create;
 * default 1/64 of the pool; 0 for none).  Rounded up to the alignment.
 */
SHMEMORA_API int shmemora_config_set_raw_size(shmemora_config *cfg, uint64_t bytes);
/** Largest key in bytes (create; default 1 KiB). */
SHMEMORA_API int shmemora_config_set_max_key(shmemora_config *cfg, uint32_t bytes);
/**
 * Largest value in bytes (create; default 1 MiB, lowered automatically in
 * small pools until the data region holds 64 of the largest entries; an
 * explicit value that does not fit is refused).  The extent size is the
 * largest entry rounded up to a power of two (at least 64 KiB).
 */
SHMEMORA_API int shmemora_config_set_max_value(shmemora_config *cfg, uint32_t bytes);
/** Bind an emulated pool's memory to this NUMA node (create; default: no binding). */
SHMEMORA_API int shmemora_config_set_numa_node(shmemora_config *cfg, int node);
/**
 * Liveness lease in milliseconds (create; default 30000, minimum 100).  A
 * host on another machine whose heartbeat counter another host has watched
 * stand still for this long, on the watcher's own clock, may have its slot
 * reclaimed.  Each attached handle's heartbeat thread beats every lease/8.
 */
SHMEMORA_API int shmemora_config_set_lease_ms(shmemora_config *cfg, uint32_t ms);
/** Attach as this host slot (attach; default -1: the first free or dead slot). */
SHMEMORA_API int shmemora_config_set_host_id(shmemora_config *cfg, int host_id);
/**
 * attach: attach as an observer (`on` = 1): map and verify the pool but claim
 * no host slot, start no heartbeat thread, and never take over anyone's slot.
 * Reads (get, multi_get, scan, stats, token list and inspect, check) work;
 * writes, token minting, revocation and gc are refused with
 * SHMEMORA_E_READ_ONLY.  shmemora_check with SHMEMORA_CHECK_REPAIR works too
 * (an administrator's mending needs no slot and allocates nothing; it is
 * how `shmemora check --repair` runs while every slot is held).  Works while
 * every host slot is held.  Default 0.
 */
SHMEMORA_API int shmemora_config_set_observer(shmemora_config *cfg, int on);
/**
 * Root token file (create writes it, mode 0600; destroy removes it).
 * Default: the pool path plus ".root-token".  The string is copied.
 */
SHMEMORA_API int shmemora_config_set_root_token_file(shmemora_config *cfg, const char *path);
/**
 * Where the root token of pool `path` is (or is to be) written under `cfg`
 * (NULL for the defaults): the config's root token file, else the pool
 * path plus ".root-token".  E_INVALID when it does not fit `len` bytes.
 * The one place that default is decided; the CLI asks here too.
 */
SHMEMORA_API int shmemora_root_token_path(const char *path, const shmemora_config *cfg,
					  char *out, size_t len);
/**
 * Share a new pool with a group (create; default -1: the creator's alone).
 * The pool file becomes mode 0660 and the key file 0640, both owned by group
 * `gid`, so that its members can attach; the root token file stays 0600.
 * Attach accepts a key file readable by the pool file's group and nobody
 * else.  The creator must be root or a member of the group (E_PERMISSION).
 */
SHMEMORA_API int shmemora_config_set_group(shmemora_config *cfg, long gid);
/**
 * create: overwrite a device (devdax) that already holds a pool.
 * destroy: remove the pool even though hosts appear to be attached.
 */
SHMEMORA_API int shmemora_config_set_force(shmemora_config *cfg, int force);
/**
 * Hardened mode (attach and create; default off): once the pool is mapped,
 * the process gives up, for the rest of its life, the system calls that
 * would reach the pool around the protected path (docs/security.md, "Hardened
 * mode").  It sets no_new_privs (needed to install a seccomp filter without
 * privileges) and makes the process not dumpable (no core dumps; other
 * processes of the same user can no longer ptrace it or read or write its
 * memory), then installs a seccomp filter on every thread that refuses with
 * EPERM:
 *   - ptrace, process_vm_readv, process_vm_writev, process_madvise,
 *     pidfd_getfd;
 *   - every new shared mapping of a file (MAP_SHARED or MAP_SHARED_VALIDATE
 *     without MAP_ANONYMOUS): a second mapping of the pool needs one, and a
 *     filter cannot tell the pool file from another.  This is the price:
 *     nothing in the process, and nothing it forks or executes, can map a
 *     file shared again, so no second pool can be attached;
 *   - mprotect, pkey_mprotect, munmap, madvise, mremap and MAP_FIXED mmap
 *     over the pool mapping, the library's secrets or its caches, mremap
 *     onto them, and pkey_free of the pool's protection key;
 *   - io_uring, userfaultfd, remap_file_pages, shmat with SHM_REMAP, and
 *     every system call of another ABI (int 0x80, x32).
 * Where the kernel has mseal(2) (Linux 6.10 on), the mappings are sealed
 * as well.
 *
 * Either this option or the environment variable SHMEMORA_HARDEN=1 turns it
 * on; neither can turn off what the other asked for (SHMEMORA_HARDEN=0 or
 * unset leaves the option's choice; any other value fails the attach with
 * E_INVALID).  It cannot be undone: the filter stays on until the process
 * exits, and is inherited by its children and by programs it executes.
 * shmemora_detach() of a hardened handle releases the host slot and wipes
 * the secrets, but leaves the mappings in place (their unmapping is what
 * the filter refuses).  Pools attached earlier in the process without it
 * are covered by the filter's process-wide rules, not by its range rules.
 *
 * Attach and create fail with E_UNSUPPORTED where the kernel has no seccomp
 * filters (nothing is changed then), and with E_IO if a step fails (the
 * message says which).  shmemora_hardened() tells whether it is on.
 */
SHMEMORA_API int shmemora_config_set_hardened(shmemora_config *cfg, int on);

/* ------------------------------------------------------------------------ */
/* Pools                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct shmemora_pool shmemora_pool;

/**
 * Creates a pool at `path` and attaches to it as host 0.
 *
 * `path` is a file to create (regular file, tmpfs such as /dev/shm,
 * hugetlbfs), a devdax character device (/dev/daxX.Y), or an existing file
 * followed by "@OFFSET" (e.g. "/dev/shm/cxl.img@2M": the pool starts OFFSET
 * bytes into that file, a multiple of the page size; suffixes K, M, G).  A
 * file must not exist yet.  On a device or a file@offset, size and
 * alignment come from the medium (devdax: /sys/dev/char/M:m/size and
 * .../align), every byte is written through the mapping (device-DAX has no
 * read, write or fsync), and the key and root token files must be named
 * (their defaults would live beside the pool).  A fresh 256-bit pool key is drawn from the OS's randomness and
 * written to the key file (mode 0600); it is never stored in the pool.
 * `cfg` may be NULL for every default.
 *
 * Errors: E_EXISTS (file exists, or a device already holds a pool without
 * force), E_GEOMETRY (the layout does not fit; errmsg says what would),
 * E_BAD_PATH, E_KEY (key file cannot be written), E_IO, E_UNSUPPORTED
 * (NUMA binding without libnuma support), E_NOMEM.  On failure nothing is
 * left behind: a file or key file this call created is removed, and on a
 * device or file@offset every byte it overwrote is restored.
 */
SHMEMORA_API int shmemora_create(const char *path, const shmemora_config *cfg,
				 shmemora_pool **out);

/**
 * Attaches to an existing pool: verifies its superblock (checksum, format
 * version, size, MAC under the key), maps it, and claims a host slot (unless
 * the config asks for an observer).  A free slot is taken first; a held one
 * only once its holder is judged dead (on this kernel: its process is gone;
 * from another machine: its heartbeat counter stood still for a lease), so
 * attach may watch for up to a lease before it returns E_NO_SLOT.
 *
 * Heartbeat thread: a handle that holds a slot starts one thread that
 * increments the slot's heartbeat counter every lease/8 (through the
 * protected path) and watches the other slots, so an idle host stays alive
 * without calling shmemora_heartbeat().  The thread blocks every signal,
 * never prints, exits or aborts, and stops at shmemora_detach().  If it
 * finds the slot reclaimed it stops beating; the next write through the
 * handle returns E_FENCED.  fork(): the child has no heartbeat thread and
 * must not use or detach the parent's handles (it may attach its own); the
 * parent's handle stays alive through the parent.
 * When the primary superblock is damaged and the backup verifies, the
 * backup is used (see shmemora_pool_info's sb_from_backup).
 *
 * Errors: E_NOT_FOUND, E_BAD_PATH, E_NOT_POOL, E_VERSION, E_TRUNCATED,
 * E_CORRUPT, E_TAMPERED, E_KEY, E_KEY_MISMATCH, E_NO_SLOT (every slot held
 * by a live host, or the requested host id is), E_INVALID (host id out of
 * range), E_IO, E_NOMEM.
 */
SHMEMORA_API int shmemora_attach(const char *path, const shmemora_config *cfg,
				 shmemora_pool **out);

/**
 * Releases this host's slot and unmaps the pool.  The handle is freed even
 * when an error is returned (E_FENCED: the slot had already been reclaimed
 * by another host, which now owns it; nothing was released).
 */
SHMEMORA_API int shmemora_detach(shmemora_pool *pool);

/**
 * Increments this host's heartbeat counter now.  The handle's heartbeat
 * thread already does so every lease/8; this call is for applications that
 * want to learn at once whether they still hold their slot.  Returns
 * E_FENCED if the slot was reclaimed, E_READ_ONLY on an observer.
 */
SHMEMORA_API int shmemora_heartbeat(shmemora_pool *pool);

/**
 * Removes a pool: deletes the pool file and its key file (for a devdax
 * device or a file@offset: wipes both superblock copies through the
 * mapping).  Requires the pool's key (so a
 * wrong path cannot destroy someone else's pool) and refuses with E_BUSY
 * while live hosts are attached, unless force is set in `cfg`.
 */
SHMEMORA_API int shmemora_destroy(const char *path, const shmemora_config *cfg);

/* ------------------------------------------------------------------------ */
/* Inspection                                                                */
/* ------------------------------------------------------------------------ */

enum shmemora_backend {
	SHMEMORA_BACKEND_FILE = 0,      /* regular file or tmpfs */
	SHMEMORA_BACKEND_HUGETLBFS = 1, /* file on hugetlbfs (huge pages) */
	SHMEMORA_BACKEND_DEVDAX = 2,    /* /dev/daxX.Y character device */
};

enum shmemora_protection {
	SHMEMORA_PROTECT_SOFTWARE = 0, /* checks in software; no hardware enforcement */
	SHMEMORA_PROTECT_MPK = 1,      /* memory protection keys guard the mapping */
};

/* The regions of a pool, in order (docs/pool-format.md).  Regions 1-5 are
 * the sync area: the words hosts change with atomic read-modify-write. */
enum shmemora_region {
	SHMEMORA_REGION_SUPERBLOCK = 0,
	SHMEMORA_REGION_REGISTRY = 1,   /* host slots */
	SHMEMORA_REGION_CAPSYNC = 2,    /* capability state words */
	SHMEMORA_REGION_NAMESPACES = 3, /* namespace records */
	SHMEMORA_REGION_INDEX = 4,      /* KV index slots */
	SHMEMORA_REGION_HEAP = 5,       /* host counters and extent records */
	SHMEMORA_REGION_CAPTABLE = 6,   /* capability fields */
	SHMEMORA_REGION_DATA = 7,       /* KV entries, in extents */
	SHMEMORA_REGION_RAW = 8,        /* the raw region API's area */
	SHMEMORA_REGION_COUNT = 9,
};

/** Everything `shmemora info` shows about a pool. */
typedef struct shmemora_info {
	uint32_t format_version;
	uint8_t uuid[16];
	uint8_t key_id[16];            /* fingerprint of the pool key (not the key) */
	uint64_t size;                 /* pool size in bytes */
	uint64_t created_unix_ns;
	uint32_t alignment;            /* region alignment in bytes */
	uint32_t page_size;            /* page size of the backing memory */
	enum shmemora_backend backend;
	enum shmemora_coherence coherence;
	uint32_t max_hosts;
	uint32_t lease_ms;
	uint32_t max_key;
	uint32_t max_value;
	uint64_t capabilities;         /* capability table entries */
	uint64_t index_slots;
	uint32_t namespaces;           /* namespace table records */
	uint64_t extent_size;          /* bytes per extent of the data region */
	uint64_t extents;              /* extents in the data region */
	uint32_t size_class_count;
	uint32_t size_classes[40];     /* entry sizes of the allocator, ascending */
	uint64_t region_offset[SHMEMORA_REGION_COUNT];
	uint64_t region_size[SHMEMORA_REGION_COUNT];
	uint32_t hosts_attached;       /* slots in use by live hosts */
	int sb_from_backup;            /* 1: primary superblock damaged, backup used */
	int key_verified;              /* 1: the MAC was checked under the pool key */
	enum shmemora_protection protection; /* best mode this CPU offers */
	const char *flush_instruction; /* "clwb", "clflushopt", "clflush" or "none" */
} shmemora_info;

/** Fills `out` from an attached pool.  The key has been verified. */
SHMEMORA_API int shmemora_pool_info(const shmemora_pool *pool, shmemora_info *out);

/**
 * Reads a pool's superblock without attaching and without the key: for
 * inspection tools.  Verifies checksum, version, geometry and size, and when
 * `key_file` (may be NULL: the default key file is tried, and skipped if
 * absent) is readable also the key id and MAC, setting key_verified.
 * Never writes to the pool.  Errors as shmemora_attach, less E_NO_SLOT.
 */
SHMEMORA_API int shmemora_inspect(const char *path, const char *key_file,
				  shmemora_info *out);

enum shmemora_host_state {
	SHMEMORA_HOST_FREE = 0,
	SHMEMORA_HOST_CLAIMING = 1, /* being claimed right now */
	SHMEMORA_HOST_ATTACHED = 2, /* held by a live host */
	SHMEMORA_HOST_DEAD = 3,     /* held, but its process is gone or its lease expired */
};

/** One host slot as seen by shmemora_hosts(). */
typedef struct shmemora_host {
	uint32_t host_id;
	enum shmemora_host_state state;
	uint32_t epoch;            /* bumped on every claim: fences returning hosts */
	int32_t pid;               /* meaningful on the machine given by boot_id */
	uint64_t heartbeat_unix_ns; /* the holder's wall clock at its last beat: display only */
	uint8_t boot_id[16];       /* the kernel boot the host ran under */
	int same_machine;          /* 1: boot id and pid namespace match ours */
	uint32_t heartbeats;       /* the holder's heartbeat counter (attached slots) */
	uint32_t unchanged_ms;     /* how long this process has watched the slot unchanged */
} shmemora_host;

/**
 * Lists host slots of the pool at `path` (read-only; no key needed).
 * Fills up to `cap` entries of `hosts`, sets *count to the number of slots.
 * A one-shot look: a slot held from another machine is listed attached
 * (this call has not watched it for a lease), one on this kernel whose
 * process is gone is listed dead.
 */
SHMEMORA_API int shmemora_hosts(const char *path, shmemora_host *hosts,
				size_t cap, size_t *count);

/** This handle's host slot (UINT32_MAX for an observer). */
SHMEMORA_API uint32_t shmemora_host_id(const shmemora_pool *pool);

/** The best protection mode this CPU and kernel offer. */
SHMEMORA_API enum shmemora_protection shmemora_protection_available(void);

/** Text names for the enums above ("coherent", "devdax", "mpk", ...). */
SHMEMORA_API const char *shmemora_coherence_name(enum shmemora_coherence mode);
SHMEMORA_API const char *shmemora_backend_name(enum shmemora_backend backend);
SHMEMORA_API const char *shmemora_protection_name(enum shmemora_protection mode);
SHMEMORA_API const char *shmemora_host_state_name(enum shmemora_host_state state);

/* ------------------------------------------------------------------------ */
/* Capability tokens                                                         */
/* ------------------------------------------------------------------------ */

/*
 * A token is a bearer capability: whoever presents it gets what its entry in
 * the pool's capability table grants.  It is an id and a tag, where
 *     tag = HMAC-SHA256(K, id || every field of the entry),
 *     K   = HMAC-SHA256(pool key, "shmemora token key v1" || pool UUID),
 * truncated to 128 bits.  The tag is never stored in the pool: reading the
 * table reveals no token, and editing an entry (wider bounds, more rights,
 * later expiry, un-revoking) makes every tag for it fail.
 *
 * Text form (for files, command lines, other processes):
 *     shmemora1_KKKK_IIIIIIIIIIIIIIII_TTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT_CCCCCCCC
 * K: the first two bytes of the pool's key id (a token of another pool is
 * named as such), I: id, T: tag, C: a checksum of what precedes it, so a
 * mistyped token (E_TOKEN_MALFORMED) is told apart from a forged one
 * (E_TOKEN_REFUSED).  All lower-case hex.
 */
#define SHMEMORA_TAG_BYTES 16
#define SHMEMORA_TOKEN_TEXT_LEN 73 /* characters, without the terminator */

typedef struct shmemora_token {
	uint16_t key_hint;               /* first two bytes of the pool key id */
	uint64_t id;
	uint8_t tag[SHMEMORA_TAG_BYTES];
} shmemora_token;

/* Rights, as bits; on the command line the letters r, w, i, d, g. */
enum shmemora_right {
	SHMEMORA_RIGHT_READ = 1,    /* r: read, get, compare */
	SHMEMORA_RIGHT_WRITE = 2,   /* w: write, put/update existing keys, compare-and-swap */
	SHMEMORA_RIGHT_INSERT = 4,  /* i: insert new keys, create namespaces */
	SHMEMORA_RIGHT_DELETE = 8,  /* d: delete keys */
	SHMEMORA_RIGHT_GRANT = 16,  /* g: derive narrower tokens */
	SHMEMORA_RIGHTS_ALL = 31,
};

/* What a token covers. */
enum shmemora_scope {
	SHMEMORA_SCOPE_POOL = 0,      /* everything (the root token) */
	SHMEMORA_SCOPE_REGION = 1,    /* bytes [offset, offset+length) of the raw area */
	SHMEMORA_SCOPE_NAMESPACE = 2, /* every key of one namespace */
	SHMEMORA_SCOPE_KEY = 3,       /* one key of one namespace */
};

/* MAC verification policy of a pool handle. */
enum shmemora_verify {
	SHMEMORA_VERIFY_CACHED = 0, /* default: MAC once per thread and token; later
				     * accesses check that the entry (every word) and
				     * its ancestors are unchanged, so a revocation
				     * takes effect on the next access */
	SHMEMORA_VERIFY_ALWAYS = 1, /* MAC on every access */
	SHMEMORA_VERIFY_OFF = 2,    /* id lookup, state, rights and bounds only: no MAC.
				     * Weak: a guessed id is accepted.  For benchmarks. */
};

/** What to grant in shmemora_token_derive(). */
typedef struct shmemora_grant {
	enum shmemora_scope scope;
	uint64_t offset, length;   /* SCOPE_REGION: raw-area offset and length */
	const char *ns;            /* SCOPE_NAMESPACE, SCOPE_KEY: namespace name */
	const void *key;           /* SCOPE_KEY: the key */
	size_t key_len;
	uint32_t rights;           /* subset of the parent's */
	uint64_t expires_unix_ns;  /* 0: the parent's expiry; never later than it */
	uint32_t quota;            /* tokens the child's descendants may hold; 0: the
				    * default, an eighth of the table for a child of
				    * a root token, half of what the parent has left
				    * otherwise (none when the child lacks the grant
				    * right: it cannot derive) */
} shmemora_grant;

enum shmemora_token_state {
	SHMEMORA_TOKEN_LIVE = 0,
	SHMEMORA_TOKEN_REVOKED = 1,
	SHMEMORA_TOKEN_EXPIRED = 2,
	SHMEMORA_TOKEN_MINTING = 3, /* being minted, or left half-minted by a dead host */
	SHMEMORA_TOKEN_ORPHANED = 4, /* its entry says live, but an ancestor was revoked
				      * (refused when used; revoked by the next sweep) */
};

/** A capability table entry as shown by inspect and list (never the tag). */
typedef struct shmemora_token_info {
	uint64_t id;
	uint32_t index;              /* table slot */
	enum shmemora_token_state state;
	enum shmemora_scope scope;
	uint64_t offset, length;     /* SCOPE_REGION */
	uint64_t ns_hash, key_hash;  /* SCOPE_NAMESPACE / SCOPE_KEY: keyed hashes */
	uint32_t rights;
	uint64_t expires_unix_ns;    /* 0: never */
	uint32_t owner_host;         /* host that minted it */
	uint64_t parent_id;          /* 0: none (the root) */
	uint64_t generation;
	uint32_t depth;              /* derivations below its root (0: a root token) */
	uint32_t quota;              /* tokens its descendants may hold */
	uint64_t quota_used;         /* what they hold now (revoked ones until gc) */
	uint32_t ns_generation;      /* SCOPE_NAMESPACE / SCOPE_KEY: the namespace's
				      * incarnation the token was made for */
	char ns_name[256];           /* SCOPE_NAMESPACE / SCOPE_KEY: the namespace's
				      * name when it still exists, else "" */
} shmemora_token_info;

/** Rights as letters, e.g. "rwg", into out (at least 6 bytes). */
SHMEMORA_API void shmemora_rights_format(uint32_t rights, char out[6]);
/** Parses a non-empty subset of "rwidg"; E_INVALID for anything else. */
SHMEMORA_API int shmemora_rights_parse(const char *text, uint32_t *rights);

/** Writes a token's text form into buf (at least SHMEMORA_TOKEN_TEXT_LEN+1 bytes). */
SHMEMORA_API int shmemora_token_format(const shmemora_token *token, char *buf, size_t len);
/** Parses the text form; E_TOKEN_MALFORMED says what is wrong with it.
 *  Leading and trailing white space is ignored. */
SHMEMORA_API int shmemora_token_parse(const char *text, shmemora_token *out);
/** Reads a token from a file holding its text form (e.g. POOL.root-token). */
SHMEMORA_API int shmemora_token_load(const char *path, shmemora_token *out);
/** Writes a token's text form to a new file of mode 0600 (E_EXISTS if present). */
SHMEMORA_API int shmemora_token_save(const shmemora_token *token, const char *path);

/**
 * Derives a token from `parent`, which must verify and hold the grant right.
 * The child never holds more rights, a larger scope or a later expiry than
 * the parent (E_WIDEN), and is revoked with it.  Errors: the verification
 * errors (see shmemora_region_read), E_DENIED (no grant right), E_WIDEN,
 * E_INVALID (bad grant), E_TABLE_FULL, E_QUOTA (the parent's or an
 * ancestor's quota of descendants is used up), E_FENCED and E_READ_ONLY (this
 * handle may not write).
 */
SHMEMORA_API int shmemora_token_derive(shmemora_pool *pool, const shmemora_token *parent,
				       const shmemora_grant *grant, shmemora_token *out);

/**
 * Revokes `token` and every token derived from it, directly or not.  The
 * presented token must verify (revoked or expired ones may be revoked again:
 * their descendants are swept).  Effective on every host at the next access.
 */
SHMEMORA_API int shmemora_token_revoke(shmemora_pool *pool, const shmemora_token *token);

/** Verifies `token` (always with its MAC) and describes its entry. */
SHMEMORA_API int shmemora_token_inspect(shmemora_pool *pool, const shmemora_token *token,
					shmemora_token_info *out);

/**
 * Lists the table's used entries (live, revoked, expired, minting): fills up
 * to `cap` and sets *count to how many there are.  Shows no tags.  Entries
 * are described as stored; they are verified only when a token is presented.
 */
SHMEMORA_API int shmemora_token_list(shmemora_pool *pool, shmemora_token_info *out,
				     size_t cap, size_t *count);

/** Frees revoked and expired entries, and minting ones whose host died. */
SHMEMORA_API int shmemora_token_gc(shmemora_pool *pool, uint64_t *freed);

/** Sets this handle's MAC verification policy (default SHMEMORA_VERIFY_CACHED). */
SHMEMORA_API int shmemora_set_verify(shmemora_pool *pool, enum shmemora_verify policy);

/** The protection mode this handle runs in (mpk when the CPU offers it). */
SHMEMORA_API enum shmemora_protection shmemora_protection_mode(const shmemora_pool *pool);

/** 1 when this process runs in hardened mode (see
 *  shmemora_config_set_hardened), else 0. */
SHMEMORA_API int shmemora_hardened(void);

/* ------------------------------------------------------------------------ */
/* Raw regions: the protected path on plain bytes                            */
/* ------------------------------------------------------------------------ */

/*
 * The raw area (region SHMEMORA_REGION_RAW, sized at create time with
 * shmemora_config_set_raw_size) addressed by offsets from its start,
 * 0 .. raw size - 1.  Neither the metadata regions nor the KV store's
 * data region are reachable here, whatever the token.
 * Every call verifies the token (per the handle's policy), its state and
 * expiry, its rights and its bounds (overflow-safe) before a byte moves.
 *
 * Errors common to every call that takes a token:
 *   E_TOKEN_REFUSED (forged, unknown id, another pool's, or its entry was
 *   edited), E_REVOKED, E_EXPIRED, E_DENIED (missing right),
 *   E_OUT_OF_SCOPE (outside the token's region), E_INVALID (NULL argument).
 */

/** Seed-compatible name for deriving a region token: the region
 *  [offset, offset+length) with `rights`, from `parent`. */
SHMEMORA_API int shmemora_region_acquire(shmemora_pool *pool, const shmemora_token *parent,
					 uint64_t offset, uint64_t length, uint32_t rights,
					 shmemora_token *out);
/** Copies `len` bytes at `offset` into buf.  Needs the read right. */
SHMEMORA_API int shmemora_region_read(shmemora_pool *pool, const shmemora_token *token,
				      uint64_t offset, void *buf, size_t len);
/** Copies `len` bytes from buf to `offset`.  Needs the write right.  In
 *  flush mode, hosts writing the raw area at once must not share a 64-byte
 *  line: without coherence, one host's write-back of the line can undo the
 *  other's bytes (docs/coherence.md). */
SHMEMORA_API int shmemora_region_write(shmemora_pool *pool, const shmemora_token *token,
				       uint64_t offset, const void *buf, size_t len);
/** Compares `len` bytes at `offset` with buf; *equal is 1 or 0.  Needs read. */
SHMEMORA_API int shmemora_region_compare(shmemora_pool *pool, const shmemora_token *token,
					 uint64_t offset, const void *buf, size_t len,
					 int *equal);
/**
 * Atomic compare-and-swap of the 8-byte word at `offset` (8-aligned):
 * if it equals *expected, writes `desired` and sets *swapped = 1; else
 * stores the current value in *expected and sets *swapped = 0.  Needs read
 * and write.  Coherent pools only: in flush mode the raw area is not
 * coherent between hosts, so no atomic on it can be, and this returns
 * SHMEMORA_E_UNSUPPORTED.
 */
SHMEMORA_API int shmemora_region_cas64(shmemora_pool *pool, const shmemora_token *token,
				       uint64_t offset, uint64_t *expected, uint64_t desired,
				       int *swapped);

/* ------------------------------------------------------------------------ */
/* The key-value store                                                       */
/* ------------------------------------------------------------------------ */

/*
 * Keys live in namespaces (tables such as "usertable").  Keys are 1 to
 * max_key bytes (1 KiB by default), values 0 to max_value bytes (1 MiB by
 * default); both are chosen at create time (shmemora_info).  A namespace
 * name is 1 to 255 bytes, without '/' or NUL.
 *
 * Every operation goes through the protected path: the token must verify and
 * grant the right on the namespace (a pool token, a namespace token for it,
 * or a key token for that one key).  Rights: get and multi_get need r;
 * insert needs i; update and cas need w; put needs w and i; delete needs d.
 * Namespaces are administered with pool tokens: ns_create needs i,
 * ns_delete d, ns_set_limits g.
 *
 * A namespace deleted and created again is a new incarnation: tokens
 * derived for the old one are refused in the new one, and none of the old
 * keys are seen.
 *
 * Lock-free: readers never block and never return a torn value; writers
 * build the whole entry in a block of their own host's extents and publish
 * it with one compare-and-swap, so a host that dies at any instruction
 * leaves no lock and no half-written value visible.  Operations on one key
 * are linearizable.
 *
 * Errors beyond the token's (see the raw region section): E_NOT_FOUND (no
 * such key, or no such namespace), E_EXISTS (insert of a present key),
 * E_CONFLICT (cas), E_TOO_SMALL (get's buffer), E_INVALID (lengths, names),
 * E_NO_SPACE (the data region, or the index near the key, is full),
 * E_CORRUPT (an index slot, entry or extent record failed validation:
 * tampered or damaged metadata).  Writes also return E_FENCED (this host's
 * slot was taken over), E_READ_ONLY (an observer), E_QUOTA (a namespace
 * limit) and E_CONTENDED (a race lost too many times in a row: retry).
 */

/**
 * Creates namespace `ns` (E_EXISTS if it exists; E_BUSY while it is being
 * deleted; E_NO_SPACE when the namespace table holds as many names as it
 * can).  Needs a pool token with i.
 */
SHMEMORA_API int shmemora_ns_create(shmemora_pool *pool, const shmemora_token *token,
				    const char *ns);

/**
 * Deletes namespace `ns` and every key in it; sets *removed (if not NULL)
 * to the number of keys removed.  From the moment it starts, operations on
 * the namespace fail with E_NOT_FOUND and tokens scoped to it are refused
 * for good (even if a namespace of that name is created again).  Writers
 * racing the deletion either see it and fail, or have their key removed.
 * A deletion interrupted by a crash is finished by calling it again.
 * Needs a pool token with d.
 */
SHMEMORA_API int shmemora_ns_delete(shmemora_pool *pool, const shmemora_token *token,
				    const char *ns, uint64_t *removed);

/** A namespace as shmemora_ns_list and shmemora_ns_stat describe it. */
typedef struct shmemora_ns_info {
	char name[256];
	uint64_t hash;        /* the keyed hash of its name (token list shows it) */
	uint32_t generation;  /* its incarnation: one more each time it is created */
	uint64_t keys;        /* keys in it */
	uint64_t bytes;       /* their key and value bytes */
	uint64_t max_keys;    /* limits: 0 for none */
	uint64_t max_bytes;
	int limited;          /* 1: limits are set and usage is kept counted; 0: keys
			       * and bytes were counted by walking the index */
} shmemora_ns_info;

/**
 * Lists the namespaces the token reaches (all of them for a pool token):
 * fills up to `cap` entries and sets *count to how many there are.  Needs r.
 * Walks the whole index: O(index slots).
 */
SHMEMORA_API int shmemora_ns_list(shmemora_pool *pool, const shmemora_token *token,
				  shmemora_ns_info *out, size_t cap, size_t *count);

/** Describes one namespace the token reaches.  Needs r. */
SHMEMORA_API int shmemora_ns_stat(shmemora_pool *pool, const shmemora_token *token,
				  const char *ns, shmemora_ns_info *out);

/**
 * Limits how many keys and how many key and value bytes namespace `ns` may
 * hold (0: no limit).  Writes that would pass a limit fail with E_QUOTA and
 * change nothing.  Setting limits the first time starts counting usage and
 * counts what is there; writes racing that first count may be miscounted,
 * so set limits right after ns_create or while the namespace is quiet.
 * Needs a pool token with g.
 */
SHMEMORA_API int shmemora_ns_set_limits(shmemora_pool *pool, const shmemora_token *token,
					const char *ns, uint64_t max_keys, uint64_t max_bytes);

/** Inserts a key that must be absent (E_EXISTS otherwise). */
SHMEMORA_API int shmemora_kv_insert(shmemora_pool *pool, const shmemora_token *token,
				    const char *ns, const void *key, size_t key_len,
				    const void *value, size_t value_len);
/** Inserts or replaces. */
SHMEMORA_API int shmemora_kv_put(shmemora_pool *pool, const shmemora_token *token,
				 const char *ns, const void *key, size_t key_len,
				 const void *value, size_t value_len);
/** Replaces a key that must be present (E_NOT_FOUND otherwise). */
SHMEMORA_API int shmemora_kv_update(shmemora_pool *pool, const shmemora_token *token,
				    const char *ns, const void *key, size_t key_len,
				    const void *value, size_t value_len);
/**
 * Copies the value into buf (capacity cap) and sets *value_len (and
 * *version, if not NULL).  When cap is too small, returns E_TOO_SMALL with
 * *value_len set to the size needed and copies nothing.
 */
SHMEMORA_API int shmemora_kv_get(shmemora_pool *pool, const shmemora_token *token,
				 const char *ns, const void *key, size_t key_len, void *buf,
				 size_t cap, size_t *value_len, uint64_t *version);
/** Deletes a key (E_NOT_FOUND if absent). */
SHMEMORA_API int shmemora_kv_delete(shmemora_pool *pool, const shmemora_token *token,
				    const char *ns, const void *key, size_t key_len);
/**
 * Replaces the value only if the key's version is still `expected_version`
 * (as returned by get); sets *new_version.  E_CONFLICT if it moved on,
 * E_NOT_FOUND if the key is absent.
 */
SHMEMORA_API int shmemora_kv_cas(shmemora_pool *pool, const shmemora_token *token,
				 const char *ns, const void *key, size_t key_len,
				 uint64_t expected_version, const void *value, size_t value_len,
				 uint64_t *new_version);

/** One key of a multi_get: inputs key, key_len, buf, cap; outputs the rest. */
typedef struct shmemora_kv_item {
	const void *key;
	size_t key_len;
	void *buf;
	size_t cap;
	size_t value_len;  /* out */
	uint64_t version;  /* out */
	int rc;            /* out: 0, E_NOT_FOUND, E_TOO_SMALL, ... */
} shmemora_kv_item;

/**
 * Gets several keys of one namespace with one token check and one pass
 * through the protected path, overlapping the memory accesses of up to 16
 * keys at a time (every key's index bucket is fetched, then the entries,
 * then the values are copied).  Each item gets its own rc, and each key is
 * read as shmemora_kv_get reads it (whole, never torn); the keys are not
 * read at one instant.  A key token of the namespace will do: each key is
 * then checked against it on its own (E_OUT_OF_SCOPE in its rc).  The call
 * returns 0 if the token check passed (then see the items), else the
 * token's error and no item is read.
 */
SHMEMORA_API int shmemora_kv_multi_get(shmemora_pool *pool, const shmemora_token *token,
				       const char *ns, shmemora_kv_item *items, size_t count);

/** One key met by shmemora_kv_scan.  The pointers are valid during the
 *  callback only. */
typedef struct shmemora_scan_item {
	const void *key;
	size_t key_len;
	const void *value;   /* NULL unless values were asked for */
	size_t value_len;    /* set in both cases */
	uint64_t version;
} shmemora_scan_item;

/**
 * Iterates over the keys of namespace `ns` that the token reaches (every
 * key for a pool or namespace token; its one key for a key token), calling
 * `visit` for each until it returns nonzero (which stops the scan and is
 * returned) or `count` keys were visited.  Start with *cursor = 0; after
 * each call *cursor is where to go on, and 0 once the whole namespace was
 * walked (as Redis SCAN).  With `with_values`, each item carries a copy of
 * its value, read whole.  Needs r.
 *
 * Guarantees, under concurrent writers: every key present in the namespace
 * from the scan's first call to its last is visited exactly once; a key
 * visited existed at some moment during the scan (its value and version as
 * of that moment); keys inserted or deleted meanwhile may or may not be
 * visited.  The cursor is a position in the index, valid for any handle of
 * the pool.  E_INVALID for a cursor past the index.
 */
SHMEMORA_API int shmemora_kv_scan(shmemora_pool *pool, const shmemora_token *token,
				  const char *ns, uint64_t *cursor, size_t count, int with_values,
				  int (*visit)(void *arg, const shmemora_scan_item *item),
				  void *arg);

/** What `shmemora stats` shows. */
typedef struct shmemora_stats {
	uint64_t keys;               /* published keys, namespaces not counted */
	uint64_t namespaces;
	uint64_t index_slots;
	uint64_t index_used;         /* non-empty slots */
	double index_load;           /* index_used / index_slots */
	uint32_t hosts;              /* host slots (= max hosts) */
	uint32_t size_class_count;
	uint64_t extent_size;        /* bytes per extent of the data region */
	uint64_t extents;            /* extents in the data region */
	uint64_t extents_free;       /* held by no host */
	uint64_t data_used;          /* bytes of the blocks out of free lists */
	/* Per host p and class c, at [p * size_class_count + c]: blocks out of
	 * the free lists of p's extents (live entries, builds in flight, and
	 * blocks in its threads' magazines). */
	uint64_t *allocated;         /* filled if not NULL: hosts * classes */
	uint64_t *host_extents;      /* filled if not NULL: extents held, per host */
	/* Summed over the hosts, as they report them (each thread adds its
	 * counts every 64 writes, and the detaching one at detach): write operations, compare-and-swaps that
	 * lost a race in the index, the allocator and the free path, blocks
	 * freed into another host's extent, extents claimed and given back. */
	uint64_t writes, index_retries, alloc_retries, free_retries, remote_frees;
	uint64_t extent_claims, extent_returns;
} shmemora_stats;

/** Counts keys, space and index load (scans the index: O(index size)).
 *  Needs no token: it reveals no keys or values. */
SHMEMORA_API int shmemora_stats_get(shmemora_pool *pool, shmemora_stats *out);

/* ------------------------------------------------------------------------ */
/* Timing breakdown of the protected path                                    */
/* ------------------------------------------------------------------------ */

/* Where the time of this thread's operations went, when timing is on. */
typedef struct shmemora_timing {
	uint64_t operations;   /* KV and region operations timed */
	uint64_t lookup_ns;    /* finding the token's entry, or its cache slot */
	uint64_t mac_ns;       /* computing and comparing tags */
	uint64_t rights_ns;    /* rights, scope and bounds checks */
	uint64_t index_ns;     /* finding the key in the index */
	uint64_t copy_ns;      /* copying values in or out */
	/* Counted whether timing is on or not: */
	uint64_t writes;        /* write operations started by this thread */
	uint64_t index_retries; /* index compare-and-swaps that lost a race */
	uint64_t alloc_retries; /* allocator compare-and-swaps that lost a race */
	uint64_t free_retries;  /* free-path compare-and-swaps that lost a race */
	uint64_t remote_frees;  /* blocks freed into other hosts' extents */
} shmemora_timing;

/**
 * Turns the per-phase timing on or off for the whole process (default
 * off: the probes then cost one predictable branch each).  Figures are
 * kept per thread; shmemora_timing_read() returns the calling thread's and,
 * with `reset`, zeroes them.  The contention counters (writes, retries,
 * remote frees) are kept whether timing is on or not.
 */
SHMEMORA_API void shmemora_timing_enable(int on);
SHMEMORA_API void shmemora_timing_read(shmemora_timing *out, int reset);

/* ------------------------------------------------------------------------ */
/* Checking and repair                                                       */
/* ------------------------------------------------------------------------ */

#define SHMEMORA_CHECK_REPAIR 1

/** What shmemora_check() found.  Set on_finding (and arg) to hear each
 *  finding as a line of text; set tokens/token_count to also verify those
 *  tokens' entries with their MAC. */
typedef struct shmemora_check_report {
	void (*on_finding)(void *arg, const char *line);
	void *arg;
	const shmemora_token *tokens;
	size_t token_count;
	/* out */
	uint64_t problems;       /* findings, repaired or not */
	uint64_t repaired;
	uint64_t keys, namespaces;
	uint64_t live_blocks, free_blocks, leaked_blocks;
	uint64_t tokens_live, tokens_revoked;
	uint64_t held_blocks;    /* live hosts' blocks neither live nor free: in
				  * their threads' magazines, or being built */
} shmemora_check_report;

/**
 * Verifies every structure of the pool: superblock copies, host registry,
 * capability table, index, and every extent of the data region: its state
 * word, its free list and every block (leaks: blocks of a dead host's
 * extent neither live nor free).  With SHMEMORA_CHECK_REPAIR it rewrites a
 * damaged superblock copy, frees dead hosts' slots, clears index slots that
 * name garbage, and, in extents whose host is not alive, rebuilds broken
 * free lists, returns leaked blocks and gives back extents left empty; it
 * never touches published keys.  A live host's blocks neither live nor free
 * (its threads' magazines, builds in flight) are counted in held_blocks and
 * left alone.
 * Returns 0 when the check ran (see report->problems), or an error.
 */
SHMEMORA_API int shmemora_check(shmemora_pool *pool, int flags, shmemora_check_report *report);

#ifdef __cplusplus
}
#endif

#endif /* SHMEMORA_H */
