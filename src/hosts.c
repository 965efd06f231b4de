/*
 * hosts.c — the host registry (see hosts.h for the protocol).
 *
 * State machine of a slot's owner word, every arrow one CAS:
 *
 *   FREE(e) --claim--> CLAIMING(e+1) --publish--> ATTACHED(e+1)
 *   ATTACHED(e) --detach--> FREE(e)
 *   ATTACHED(e), owner dead --reclaim--> CLAIMING(e+1)
 *   CLAIMING(e), older than CLAIM_TIMEOUT_S --take over--> CLAIMING(e+1)
 *
 * The identity fields are written only by the holder of a CLAIMING word and
 * published by the release CAS to ATTACHED; readers load the owner word with
 * acquire before they read them.  Fields are accessed with relaxed atomics
 * because a reclaimer may read them while a new claimer writes them: such a
 * reader's CAS then fails, so a torn read never leads to a wrong claim.
 */
#include "hosts.h"
#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t owner_word(unsigned state, uint32_t epoch, uint64_t time_s)
{
	return (uint64_t)state | (uint64_t)(epoch & EPOCH_MASK) << 2 | time_s << 32;
}
static unsigned owner_state(uint64_t w) { return (unsigned)(w & 3); }
static uint32_t owner_epoch(uint64_t w) { return (uint32_t)(w >> 2) & EPOCH_MASK; }
static uint64_t owner_time(uint64_t w) { return w >> 32; }

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Field 22 of /proc/PID/stat (start time in clock ticks), or 0 if the
 * process does not exist or is a zombie (killed, not yet reaped: it holds no
 * mapping any more, so its slot is free to take). */
static uint64_t process_start_ticks(uint32_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%u/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count
	 * fields from the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long ticks = 0;
	int field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 3 && (tok[0] == 'Z' || tok[0] == 'X'))
			return 0;
		if (field == 22) {
			ticks = strtoull(tok, NULL, 10);
			break;
		}
	}
	return ticks;
}

static int read_boot_id(uint8_t out[16])
{
	char text[64];
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	memset(out, 0, 16);
	if (fd < 0)
		return error_set(SHMEMORA_E_IO, "cannot read the kernel boot id: %s",
				 strerror(errno));
	ssize_t n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return error_set(SHMEMORA_E_IO, "cannot read the kernel boot id");
	text[n] = '\0';
	int j = 0;
	for (ssize_t i = 0; i < n && j < 32; i++) {
		char c = text[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			continue;
		out[j / 2] |= (uint8_t)(j % 2 ? v : v << 4);
		j++;
	}
	return j == 32 ? 0 : error_set(SHMEMORA_E_IO, "malformed kernel boot id");
}

int host_identity_self(struct host_identity *id)
{
	memset(id, 0, sizeof *id);
	id->pid = (uint32_t)getpid();
	id->start_ticks = process_start_ticks(id->pid);
	struct stat st;
	if (stat("/proc/self/ns/pid", &st) == 0)
		id->pidns_inode = st.st_ino;
	return read_boot_id(id->boot_id);
}

static bool same_machine(const struct host_slot *slot, const struct host_identity *self)
{
	uint8_t boot[16];
	for (int i = 0; i < 16; i++)
		boot[i] = __atomic_load_n(&slot->boot_id[i], __ATOMIC_RELAXED);
	return memcmp(boot, self->boot_id, 16) == 0 &&
	       __atomic_load_n(&slot->pidns_inode, __ATOMIC_RELAXED) == self->pidns_inode;
}

/* Is the host recorded in an ATTACHED slot still alive? */
static bool holder_alive(const struct registry *reg, const struct host_slot *slot,
			 const struct host_identity *self)
{
	if (same_machine(slot, self)) {
		uint32_t pid = __atomic_load_n(&slot->pid, __ATOMIC_RELAXED);
		uint64_t start = __atomic_load_n(&slot->pid_start_ticks, __ATOMIC_RELAXED);
		return pid != 0 && process_start_ticks(pid) == start;
	}
	uint64_t beat = atomic_load_explicit(&slot->heartbeat_ns, memory_order_relaxed);
	uint64_t now = realtime_ns();
	return beat > now || now - beat < (uint64_t)reg->lease_ms * 1000000ull;
}

/* Whether a slot may be claimed now, given its owner word `w`. */
static bool claimable(const struct registry *reg, const struct host_slot *slot, uint64_t w,
		      const struct host_identity *self)
{
	switch (owner_state(w)) {
	case OWNER_FREE:
		return true;
	case OWNER_CLAIMING:
		return (uint64_t)time(NULL) > owner_time(w) + CLAIM_TIMEOUT_S;
	case OWNER_ATTACHED:
		return !holder_alive(reg, slot, self);
	}
	return true; /* state 3 is never written: treat a damaged word as free */
}

static void write_identity(struct host_slot *slot, const struct host_identity *self)
{
	__atomic_store_n(&slot->pid, self->pid, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->pid_start_ticks, self->start_ticks, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->pidns_inode, self->pidns_inode, __ATOMIC_RELAXED);
	for (int i = 0; i < 16; i++)
		__atomic_store_n(&slot->boot_id[i], self->boot_id[i], __ATOMIC_RELAXED);
	atomic_store_explicit(&slot->heartbeat_ns, realtime_ns(), memory_order_relaxed);
}

static int try_claim(struct registry *reg, uint32_t i, const struct host_identity *self,
		     uint32_t *epoch)
{
	struct host_slot *slot = &reg->slots[i];
	uint64_t w = atomic_load_explicit(&slot->owner, memory_order_acquire);
	if (!claimable(reg, slot, w, self))
		return 0;
	uint32_t e = (owner_epoch(w) + 1) & EPOCH_MASK;
	uint64_t now_s = (uint64_t)time(NULL);
	uint64_t claiming = owner_word(OWNER_CLAIMING, e, now_s);
	if (!atomic_compare_exchange_strong_explicit(&slot->owner, &w, claiming,
						     memory_order_acq_rel, memory_order_acquire))
		return 0;
	write_identity(slot, self);
	/* Release: the identity fields are visible before ATTACHED is. */
	uint64_t attached = owner_word(OWNER_ATTACHED, e, now_s);
	coherence_writeback(reg->coh, slot, sizeof *slot);
	if (!atomic_compare_exchange_strong_explicit(&slot->owner, &claiming, attached,
						     memory_order_release, memory_order_relaxed))
		return 0; /* taken over after CLAIM_TIMEOUT_S: we stalled; look on */
	coherence_writeback(reg->coh, slot, sizeof *slot);
	*epoch = e;
	return 1;
}

int hosts_claim(struct registry *reg, int requested, uint32_t *host_id, uint32_t *epoch)
{
	struct host_identity self;
	int rc = host_identity_self(&self);
	if (rc)
		return rc;
	if (requested >= 0) {
		if ((uint32_t)requested >= reg->count)
			return error_set(SHMEMORA_E_INVALID, "host id %d out of range: this pool "
					 "has host slots 0..%u", requested, reg->count - 1);
		if (!try_claim(reg, (uint32_t)requested, &self, epoch))
			return error_set(SHMEMORA_E_NO_SLOT,
					 "host slot %d is held by a live host", requested);
		*host_id = (uint32_t)requested;
		return 0;
	}
	for (uint32_t i = 0; i < reg->count; i++) {
		if (try_claim(reg, i, &self, epoch)) {
			*host_id = i;
			return 0;
		}
	}
	return error_set(SHMEMORA_E_NO_SLOT,
			 "all %u host slots are held by live hosts: detach one, or create the "
			 "pool with more --hosts", reg->count);
}

static int fenced(uint32_t host_id, uint32_t epoch, uint64_t w)
{
	return error_set(SHMEMORA_E_FENCED,
			 "host slot %u was reclaimed by another host (our epoch %u, slot now "
			 "at epoch %u): this handle must detach and attach again",
			 host_id, epoch, owner_epoch(w));
}

/* Only the process that claimed a slot acts as its holder.  A child forked
 * from it inherits the handle, and with it the slot's id and epoch: without
 * this its detach would free the parent's slot and fence the parent.  The
 * slot's pid is the holder's own getpid() (a raw writer who edits it can
 * only make the holder's detach fail, less than it can do to the owner
 * word).  getpid() is a system call; release and heartbeat are rare. */
static int check_holder(const struct host_slot *slot, uint32_t host_id)
{
	uint32_t holder = __atomic_load_n(&slot->pid, __ATOMIC_RELAXED);
	if (holder == (uint32_t)getpid())
		return 0;
	return error_set(SHMEMORA_E_INVALID, "host slot %u is held by process %u, which "
			 "attached the pool; this process (%d) inherited the handle by fork and "
			 "must attach the pool itself", host_id, holder, (int)getpid());
}

int hosts_release(struct registry *reg, uint32_t host_id, uint32_t epoch)
{
	struct host_slot *slot = &reg->slots[host_id];
	int rc = check_holder(slot, host_id);
	if (rc)
		return rc;
	uint64_t w = atomic_load_explicit(&slot->owner, memory_order_acquire);
	if (owner_state(w) != OWNER_ATTACHED || owner_epoch(w) != epoch)
		return fenced(host_id, epoch, w);
	uint64_t free_w = owner_word(OWNER_FREE, epoch, (uint64_t)time(NULL));
	/* Release: our writes to the partition happen before the slot is free. */
	if (!atomic_compare_exchange_strong_explicit(&slot->owner, &w, free_w,
						     memory_order_release, memory_order_relaxed))
		return fenced(host_id, epoch, w);
	coherence_writeback(reg->coh, slot, sizeof *slot);
	return 0;
}

int hosts_heartbeat(struct registry *reg, uint32_t host_id, uint32_t epoch)
{
	struct host_slot *slot = &reg->slots[host_id];
	int rc = check_holder(slot, host_id);
	if (rc)
		return rc;
	uint64_t w = atomic_load_explicit(&slot->owner, memory_order_acquire);
	if (owner_state(w) != OWNER_ATTACHED || owner_epoch(w) != epoch)
		return fenced(host_id, epoch, w);
	atomic_store_explicit(&slot->heartbeat_ns, realtime_ns(), memory_order_relaxed);
	coherence_writeback(reg->coh, slot, sizeof *slot);
	return 0;
}

int hosts_reclaim_dead(struct registry *reg, uint32_t host_id)
{
	struct host_identity self;
	int rc = host_identity_self(&self);
	if (rc)
		return rc;
	struct host_slot *slot = &reg->slots[host_id];
	uint64_t w = atomic_load_explicit(&slot->owner, memory_order_acquire);
	if (owner_state(w) == OWNER_FREE || !claimable(reg, slot, w, &self))
		return error_set(SHMEMORA_E_BUSY, "host slot %u is not held by a dead host", host_id);
	uint64_t freed = owner_word(OWNER_FREE, owner_epoch(w) + 1, (uint64_t)time(NULL));
	if (!atomic_compare_exchange_strong(&slot->owner, &w, freed))
		return error_set(SHMEMORA_E_BUSY, "host slot %u changed meanwhile", host_id);
	coherence_writeback(reg->coh, slot, sizeof *slot);
	return 0;
}

void hosts_describe(const struct registry *reg, uint32_t host_id,
		    const struct host_identity *self, shmemora_host *out)
{
	const struct host_slot *slot = &reg->slots[host_id];
	uint64_t w = atomic_load_explicit(&slot->owner, memory_order_acquire);
	memset(out, 0, sizeof *out);
	out->host_id = host_id;
	out->epoch = owner_epoch(w);
	out->pid = (int32_t)__atomic_load_n(&slot->pid, __ATOMIC_RELAXED);
	out->heartbeat_unix_ns = atomic_load_explicit(&slot->heartbeat_ns, memory_order_relaxed);
	for (int i = 0; i < 16; i++)
		out->boot_id[i] = __atomic_load_n(&slot->boot_id[i], __ATOMIC_RELAXED);
	out->same_machine = same_machine(slot, self);
	switch (owner_state(w)) {
	case OWNER_FREE:
		out->state = SHMEMORA_HOST_FREE;
		break;
	case OWNER_CLAIMING:
		out->state = claimable(reg, slot, w, self) ? SHMEMORA_HOST_DEAD
							    : SHMEMORA_HOST_CLAIMING;
		break;
	default:
		out->state = holder_alive(reg, slot, self) ? SHMEMORA_HOST_ATTACHED
							    : SHMEMORA_HOST_DEAD;
	}
}

bool hosts_incarnation_alive(const struct registry *reg, uint32_t host_id, uint32_t epoch)
{
	struct host_identity self;
	if (host_id >= reg->count || host_identity_self(&self) != 0)
		return false;
	shmemora_host h;
	hosts_describe(reg, host_id, &self, &h);
	return h.epoch == epoch &&
	       (h.state == SHMEMORA_HOST_ATTACHED || h.state == SHMEMORA_HOST_CLAIMING);
}

uint32_t hosts_live_count(const struct registry *reg, const struct host_identity *self)
{
	uint32_t live = 0;
	for (uint32_t i = 0; i < reg->count; i++) {
		shmemora_host h;
		hosts_describe(reg, i, self, &h);
		live += h.state == SHMEMORA_HOST_ATTACHED || h.state == SHMEMORA_HOST_CLAIMING;
	}
	return live;
}
