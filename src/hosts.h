/*
 * hosts.h — the host registry: claiming, releasing and judging host slots.
 *
 * A host slot is claimed with one compare-and-swap on its owner word, so two
 * processes attaching at once can never get the same slot.  Each claim bumps
 * the slot's epoch; a host whose slot was reclaimed while it was away holds
 * an old epoch and is refused (fenced) from then on.
 *
 * Liveness: on the same machine (same boot id and pid namespace) a slot is
 * live while its process exists with the recorded start time, so a killed
 * process's slot is free at once.  Across machines pids mean nothing, and a
 * slot is live while its heartbeat is younger than the pool's lease.
 */
#ifndef SHMEMORA_HOSTS_H
#define SHMEMORA_HOSTS_H

#include "coherence.h"
#include "layout.h"
#include "shmemora.h"

#include <stdbool.h>

/* Owner word: state (bits 0-1), epoch (bits 2-31), time in s (bits 32-63). */
enum owner_state { OWNER_FREE = 0, OWNER_CLAIMING = 1, OWNER_ATTACHED = 2 };
#define EPOCH_MASK 0x3fffffffu
/* A claim not completed within this long belongs to a process that died
 * mid-claim; it may then be taken over. */
#define CLAIM_TIMEOUT_S 10

struct host_identity {
	uint32_t pid;
	uint64_t start_ticks;
	uint64_t pidns_inode;
	uint8_t boot_id[16];
};

struct registry {
	struct host_slot *slots;        /* the mapped region (or a private copy) */
	uint32_t count;
	uint32_t lease_ms;
	const struct coherence *coh;
};

/* This process's identity (pid, start time, pid namespace, boot id). */
int host_identity_self(struct host_identity *id);

/* Claims slot `requested` (>= 0) or the first free or dead one (-1).
 * E_NO_SLOT when none can be had (the message says why), E_INVALID when
 * `requested` is out of range. */
int hosts_claim(struct registry *reg, int requested, uint32_t *host_id, uint32_t *epoch);

/* Releases a slot held at `epoch`; E_FENCED if someone reclaimed it,
 * E_INVALID (nothing released) when called from a child forked from the
 * holder.  The same holds for hosts_heartbeat. */
int hosts_release(struct registry *reg, uint32_t host_id, uint32_t epoch);

/* Refreshes the heartbeat of a slot held at `epoch`; E_FENCED if lost. */
int hosts_heartbeat(struct registry *reg, uint32_t host_id, uint32_t epoch);

/* Frees a slot whose holder is dead (bumping the epoch, so the old holder
 * is fenced should it ever come back).  E_BUSY if it is not dead after all. */
int hosts_reclaim_dead(struct registry *reg, uint32_t host_id);

/* Describes slot `host_id` for shmemora_hosts(); `self` judges liveness. */
void hosts_describe(const struct registry *reg, uint32_t host_id,
		    const struct host_identity *self, shmemora_host *out);

/* Is slot `host_id` held right now, at `epoch`, by a live host?  (A host
 * that died and whose slot another process took since is not.) */
bool hosts_incarnation_alive(const struct registry *reg, uint32_t host_id, uint32_t epoch);

/* Number of slots held by live hosts. */
uint32_t hosts_live_count(const struct registry *reg, const struct host_identity *self);

#endif
