/*
 * hosts.h — the host registry: claiming, releasing and judging host slots.
 *
 * A host slot is claimed with one compare-and-swap on its owner word, so two
 * processes attaching at once can never get the same slot.  Each claim bumps
 * the slot's epoch; a host whose slot was reclaimed while it was away holds
 * an old epoch and is refused (fenced) from then on.
 *
 * Liveness never compares one machine's clock with another's.  The holder
 * of a slot increments a heartbeat counter kept in the upper half of its
 * owner word (the library's heartbeat thread does it every lease/8).  An
 * observer remembers the owner word it last saw and, on its own
 * CLOCK_MONOTONIC, how long it has watched that word stay unchanged; a slot
 * is dead only once that watched time reaches the lease.  Each interval
 * between two observations counts for at most lease/4, so a jump of the
 * observer's own clock (a VM thawed after a freeze) cannot declare anyone
 * dead on its own: a verdict needs several observations spread over a lease.
 * A process that needs a slot now takes a FREE one first, and only when it
 * must reclaim does it watch the candidates for a lease (hosts_watch).
 *
 * Fast path on one kernel: when a slot's boot id and pid namespace are ours
 * (a boot id is drawn by each kernel at boot and never shared between
 * machines), the holder is alive exactly while its process exists with the
 * recorded start time, so a killed process's slot is free at once.
 *
 * Observations are this process's own, in process memory (struct registry's
 * watch table): nothing that only one kernel knows is ever stored as a
 * verdict in the pool.
 */
#ifndef SHMEMORA_HOSTS_H
#define SHMEMORA_HOSTS_H

#include "layout.h"
#include "shmemora.h"

#include <pthread.h>
#include <stdbool.h>

/*
 * Owner word: state (bits 0-1), epoch (bits 2-31), and bits 32-63: in
 * ATTACHED the heartbeat counter, in CLAIMING the claimer's ticket (a hash
 * of the identity it is about to write, so a reader can tell whether the
 * identity fields are the claimer's yet), in FREE zero.
 */
enum owner_state { OWNER_FREE = 0, OWNER_CLAIMING = 1, OWNER_ATTACHED = 2 };
#define EPOCH_MASK 0x3fffffffu

struct host_identity {
	uint32_t pid;
	uint64_t start_ticks;
	uint64_t pidns_inode;
	uint8_t boot_id[16];
};

/* What this process has seen of one slot. */
struct slot_watch {
	uint64_t word;          /* owner word last seen */
	uint64_t seen_ns;       /* our CLOCK_MONOTONIC at that observation */
	uint64_t still_ns;      /* watched time with the word unchanged (capped steps) */
	int seen;
};

struct registry {
	struct host_slot *slots;        /* the mapped region (or a private copy) */
	uint32_t count;
	uint32_t lease_ms;
	struct host_identity self;      /* this process, read once by registry_init */
	struct slot_watch *watch;       /* per slot; guarded by *lock */
	pthread_mutex_t *lock;
};

/* This process's identity (pid, start time, pid namespace, boot id). */
int host_identity_self(struct host_identity *id);

/* Binds a registry to `slots` (the mapped region, or a private copy) and
 * gives it an empty watch table.  The registry is in the sync area, which
 * is coherent in both modes: no call here writes back or invalidates. */
int registry_init(struct registry *reg, struct host_slot *slots, uint32_t count,
		  uint32_t lease_ms);
void registry_fini(struct registry *reg);

/* Claims slot `requested` (>= 0) or a free or dead one (-1).  Free slots
 * first; a held slot only once judged dead, watching undecided ones for up
 * to a lease.  E_NO_SLOT when none can be had (the message says why),
 * E_INVALID when `requested` is out of range. */
int hosts_claim(struct registry *reg, int requested, uint32_t *host_id, uint32_t *epoch);

/* Releases a slot held at `epoch`; E_FENCED if someone reclaimed it,
 * E_INVALID (nothing released) when called from a child forked from the
 * holder.  The same holds for hosts_heartbeat. */
int hosts_release(struct registry *reg, uint32_t host_id, uint32_t epoch);

/* Increments the heartbeat counter of a slot held at `epoch` (one CAS, so a
 * reclaimed slot is never touched); E_FENCED if lost. */
int hosts_heartbeat(struct registry *reg, uint32_t host_id, uint32_t epoch);

/* 0 while slot `host_id` is ATTACHED at `epoch`, else E_FENCED.  Reads the
 * owner word once, sequentially consistent, so a check made after a
 * publishing CAS is ordered after it. */
int hosts_holds(const struct registry *reg, uint32_t host_id, uint32_t epoch);

/* Observes every slot once (the heartbeat thread calls it each period). */
void hosts_observe(const struct registry *reg);

/* Watches the slots that are held but not yet judged (another machine's,
 * or a claim in progress) until each has either changed or stayed unchanged
 * for a whole lease; `only` >= 0 watches that slot alone. */
void hosts_watch(const struct registry *reg, int only);

/* Frees a slot this process has judged dead (bumping the epoch, so the old
 * holder is fenced should it ever come back).  E_BUSY if it is not dead. */
int hosts_reclaim_dead(struct registry *reg, uint32_t host_id);

/* Describes slot `host_id` for shmemora_hosts(), observing it once.  A
 * slot held from another machine is ATTACHED until this process has
 * watched it unchanged for a lease.  `self` may be NULL (the registry's). */
void hosts_describe(const struct registry *reg, uint32_t host_id,
		    const struct host_identity *self, shmemora_host *out);

/* Is slot `host_id` held right now, at `epoch`, by a live host?  (A host
 * that died and whose slot another process took since is not.) */
bool hosts_incarnation_alive(const struct registry *reg, uint32_t host_id, uint32_t epoch);

/* Number of slots held by hosts not judged dead. */
uint32_t hosts_live_count(const struct registry *reg, const struct host_identity *self);

#endif
