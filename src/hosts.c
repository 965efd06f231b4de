/*
 * hosts.c — the host registry (see hosts.h for the protocol).
 *
 * State machine of a slot's owner word, every arrow one CAS:
 *
 *   FREE(e) --claim--> CLAIMING(e+1, ticket) --publish--> ATTACHED(e+1, beat 0)
 *   ATTACHED(e, n) --heartbeat--> ATTACHED(e, n+1)
 *   ATTACHED(e, n) --detach--> FREE(e)
 *   ATTACHED(e, n), judged dead --reclaim--> CLAIMING(e+1) or FREE(e+1)
 *   CLAIMING(e), judged dead --take over--> CLAIMING(e+1)
 *
 * Every transition other than the holder's own starts from a word the
 * actor read and judged; a heartbeat changes the word, so a host that beat
 * since it was judged makes the reclaim's CAS fail.  The identity fields are
 * written only by the holder of a CLAIMING word and published by the CAS to
 * ATTACHED; readers load the owner word with acquire before they read them,
 * each field once.  Fields are accessed with relaxed atomics because a
 * reclaimer may read them while a new claimer writes them: such a reader's
 * CAS then fails, so a torn read never leads to a wrong claim.
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
#include <xxhash.h>

#define BEAT_ONE (1ull << 32)

static uint64_t owner_word(unsigned state, uint32_t epoch, uint32_t high)
{
	return (uint64_t)state | (uint64_t)(epoch & EPOCH_MASK) << 2 | (uint64_t)high << 32;
}
static unsigned owner_state(uint64_t w) { return (unsigned)(w & 3); }
static uint32_t owner_epoch(uint64_t w) { return (uint32_t)(w >> 2) & EPOCH_MASK; }
static uint32_t owner_high(uint64_t w) { return (uint32_t)(w >> 32); }

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t lease_ns(const struct registry *reg)
{
	return (uint64_t)reg->lease_ms * 1000000ull;
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


/* Reads a slot's identity fields, each once. */
static void read_identity(const struct host_slot *slot, struct host_identity *id)
{
	id->pid = __atomic_load_n(&slot->pid, __ATOMIC_RELAXED);
	id->start_ticks = __atomic_load_n(&slot->pid_start_ticks, __ATOMIC_RELAXED);
	id->pidns_inode = __atomic_load_n(&slot->pidns_inode, __ATOMIC_RELAXED);
	for (int i = 0; i < 16; i++)
		id->boot_id[i] = __atomic_load_n(&slot->boot_id[i], __ATOMIC_RELAXED);
}

static bool same_machine(const struct host_identity *id, const struct host_identity *self)
{
	return memcmp(id->boot_id, self->boot_id, 16) == 0 &&
	       id->pidns_inode == self->pidns_inode;
}

/* The claim ticket: a hash of the identity a claimer is about to write. */
static uint32_t identity_ticket(const struct host_identity *id)
{
	uint8_t buf[4 + 8 + 8 + 16];
	memcpy(buf, &id->pid, 4);
	memcpy(buf + 4, &id->start_ticks, 8);
	memcpy(buf + 12, &id->pidns_inode, 8);
	memcpy(buf + 20, id->boot_id, 16);
	return (uint32_t)XXH3_64bits(buf, sizeof buf);
}

int registry_init(struct registry *reg, struct host_slot *slots, uint32_t count,
		  uint32_t lease_ms)
{
	memset(reg, 0, sizeof *reg);
	reg->slots = slots;
	reg->count = count;
	reg->lease_ms = lease_ms;
	int rc = host_identity_self(&reg->self);
	if (rc)
		return rc;
	reg->watch = calloc(count ? count : 1, sizeof *reg->watch);
	reg->lock = malloc(sizeof *reg->lock);
	if (!reg->watch || !reg->lock || pthread_mutex_init(reg->lock, NULL) != 0) {
		free(reg->watch);
		free(reg->lock);
		reg->watch = NULL;
		reg->lock = NULL;
		return error_set(SHMEMORA_E_NOMEM, "out of memory for the host watch table");
	}
	return 0;
}

void registry_fini(struct registry *reg)
{
	if (reg->lock) {
		pthread_mutex_destroy(reg->lock);
		free(reg->lock);
	}
	free(reg->watch);
	reg->watch = NULL;
	reg->lock = NULL;
}

/*
 * Reads slot i's owner word once and records the observation: *still is how
 * long this process has now watched that very word.  Each step between two
 * observations counts for at most lease/4, so no single jump of our clock
 * (nor a long pause of ours) can make up a lease by itself.
 */
static uint64_t observe(const struct registry *reg, uint32_t i, uint64_t *still)
{
	/* Acquire: pairs with the release CAS that published the word, so
	 * the identity fields read after it are at least that recent. */
	uint64_t w = atomic_load_explicit(&reg->slots[i].owner, memory_order_acquire);
	*still = 0;
	if (!reg->watch)
		return w;
	uint64_t now = clock_ns(CLOCK_MONOTONIC), cap = lease_ns(reg) / 4;
	pthread_mutex_lock(reg->lock);
	struct slot_watch *sw = &reg->watch[i];
	if (!sw->seen || sw->word != w) {
		sw->word = w;
		sw->still_ns = 0;
		sw->seen = 1;
	} else if (now > sw->seen_ns) {
		uint64_t step = now - sw->seen_ns;
		sw->still_ns += step < cap ? step : cap;
	}
	sw->seen_ns = now;
	*still = sw->still_ns;
	pthread_mutex_unlock(reg->lock);
	return w;
}

enum verdict {
	V_FREE,     /* nobody holds it */
	V_LIVE,     /* its holder's process runs on this kernel */
	V_PRESUMED, /* held from elsewhere, not yet watched unchanged for a lease */
	V_DEAD,     /* its process is gone, or its word stood still for a lease */
};

/* Judges slot i from its owner word `w`, watched unchanged for `still`. */
static enum verdict judge(const struct registry *reg, uint32_t i, uint64_t w, uint64_t still,
			  const struct host_identity *self)
{
	unsigned st = owner_state(w);
	if (st == OWNER_FREE)
		return V_FREE;
	if (st != OWNER_ATTACHED && st != OWNER_CLAIMING)
		return V_DEAD; /* state 3 is never written: a damaged word may be taken */
	struct host_identity id;
	read_identity(&reg->slots[i], &id);
	/* In CLAIMING the identity may still be the previous holder's: it is
	 * the claimer's only once it hashes to the ticket in the word. */
	bool identity_current = st == OWNER_ATTACHED || identity_ticket(&id) == owner_high(w);
	if (identity_current && same_machine(&id, self))
		return id.pid != 0 && process_start_ticks(id.pid) == id.start_ticks ? V_LIVE
										     : V_DEAD;
	return still >= lease_ns(reg) ? V_DEAD : V_PRESUMED;
}

static void write_identity(struct host_slot *slot, const struct host_identity *self)
{
	__atomic_store_n(&slot->pid, self->pid, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->pid_start_ticks, self->start_ticks, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->pidns_inode, self->pidns_inode, __ATOMIC_RELAXED);
	for (int i = 0; i < 16; i++)
		__atomic_store_n(&slot->boot_id[i], self->boot_id[i], __ATOMIC_RELAXED);
	atomic_store_explicit(&slot->heartbeat_ns, clock_ns(CLOCK_REALTIME),
			      memory_order_relaxed);
}

/* Claims slot i if it is free, or (with `take_dead`) judged dead. */
static int try_claim(struct registry *reg, uint32_t i, bool take_dead, uint32_t *epoch)
{
	struct host_slot *slot = &reg->slots[i];
	uint64_t still;
	uint64_t w = observe(reg, i, &still);
	enum verdict v = judge(reg, i, w, still, &reg->self);
	if (v != V_FREE && !(take_dead && v == V_DEAD))
		return 0;
	uint32_t e = (owner_epoch(w) + 1) & EPOCH_MASK;
	uint64_t claiming = owner_word(OWNER_CLAIMING, e, identity_ticket(&reg->self));
	if (!atomic_compare_exchange_strong_explicit(&slot->owner, &w, claiming,
						     memory_order_acq_rel, memory_order_acquire))
		return 0;
	write_identity(slot, &reg->self);
	/* Release: the identity fields are visible before ATTACHED is. */
	uint64_t attached = owner_word(OWNER_ATTACHED, e, 0);
	if (!atomic_compare_exchange_strong_explicit(&slot->owner, &claiming, attached,
						     memory_order_release, memory_order_relaxed))
		return 0; /* taken over: we stalled for a whole lease; look on */
	*epoch = e;
	return 1;
}

void hosts_watch(const struct registry *reg, int only)
{
	uint64_t lease = lease_ns(reg);
	uint64_t step = lease / 8 > 1000000 ? lease / 8 : 1000000;
	uint64_t *first = calloc(reg->count ? reg->count : 1, sizeof *first);
	uint8_t *watching = calloc(reg->count ? reg->count : 1, 1);
	/* A bound in case our own clock misbehaves: each step credits at most
	 * lease/4, so 2 leases of sleeping steps always suffice. */
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) + 2 * lease + 4 * step;
	for (int round = 0; first && watching; round++) {
		bool pending = false;
		for (uint32_t i = 0; i < reg->count; i++) {
			if (only >= 0 && i != (uint32_t)only)
				continue;
			if (round > 0 && !watching[i])
				continue;
			uint64_t still;
			uint64_t w = observe(reg, i, &still);
			enum verdict v = judge(reg, i, w, still, &reg->self);
			if (round == 0) {
				first[i] = w;
				watching[i] = v == V_PRESUMED;
			} else if (v != V_PRESUMED || w != first[i]) {
				watching[i] = 0; /* judged dead, or seen to move: alive */
			}
			pending |= watching[i] != 0;
		}
		if (!pending || clock_ns(CLOCK_MONOTONIC) > deadline)
			break;
		struct timespec ts = { (time_t)(step / 1000000000ull), (long)(step % 1000000000ull) };
		nanosleep(&ts, NULL);
	}
	free(first);
	free(watching);
}

int hosts_claim(struct registry *reg, int requested, uint32_t *host_id, uint32_t *epoch)
{
	if (requested >= 0) {
		if ((uint32_t)requested >= reg->count)
			return error_set(SHMEMORA_E_INVALID, "host id %d out of range: this pool "
					 "has host slots 0..%u", requested, reg->count - 1);
		uint32_t i = (uint32_t)requested;
		if (!try_claim(reg, i, true, epoch)) {
			hosts_watch(reg, requested);
			if (!try_claim(reg, i, true, epoch))
				return error_set(SHMEMORA_E_NO_SLOT,
						 "host slot %d is held by a live host", requested);
		}
		*host_id = i;
		return 0;
	}
	/* Free slots first; then slots already known dead; only then watch the
	 * undecided ones for a lease, and take one that proved dead. */
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 2)
			hosts_watch(reg, -1);
		for (uint32_t i = 0; i < reg->count; i++) {
			if (try_claim(reg, i, pass > 0, epoch)) {
				*host_id = i;
				return 0;
			}
		}
	}
	return error_set(SHMEMORA_E_NO_SLOT,
			 "all %u host slots are held by live hosts (watched for the %u ms lease): "
			 "detach one, or create the pool with more --hosts", reg->count,
			 reg->lease_ms);
}

static int fenced(uint32_t host_id, uint32_t epoch, uint64_t w)
{
	return error_set(SHMEMORA_E_FENCED,
			 "host slot %u was reclaimed by another host (our epoch %u, slot now "
			 "at epoch %u): this handle must detach and attach again",
			 host_id, epoch, owner_epoch(w));
}

static bool held_at(uint64_t w, uint32_t epoch)
{
	return owner_state(w) == OWNER_ATTACHED && owner_epoch(w) == epoch;
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
	uint64_t w = atomic_load_explicit(&slot->owner, memory_order_acquire);
	/* A slot taken over is reported as fenced, whoever holds it now; a
	 * slot still at our epoch but claimed by another process is ours only
	 * by inheritance (a forked child). */
	if (!held_at(w, epoch))
		return fenced(host_id, epoch, w);
	int rc = check_holder(slot, host_id);
	if (rc)
		return rc;
	uint64_t free_w = owner_word(OWNER_FREE, epoch, 0);
	do {
		if (!held_at(w, epoch))
			return fenced(host_id, epoch, w);
		/* Release: our writes to our extents happen before the slot
		 * is free (pairs with the claimer's acquire CAS).  A failure
		 * is our own heartbeat moving the counter: look again. */
	} while (!atomic_compare_exchange_weak_explicit(&slot->owner, &w, free_w,
							 memory_order_release,
							 memory_order_acquire));
	return 0;
}

int hosts_heartbeat(struct registry *reg, uint32_t host_id, uint32_t epoch)
{
	struct host_slot *slot = &reg->slots[host_id];
	uint64_t w = atomic_load_explicit(&slot->owner, memory_order_relaxed);
	if (!held_at(w, epoch))
		return fenced(host_id, epoch, w); /* before the holder check, as release */
	int rc = check_holder(slot, host_id);
	if (rc)
		return rc;
	do {
		if (!held_at(w, epoch))
			return fenced(host_id, epoch, w);
		/* Relaxed: the counter orders nothing; observers only look for
		 * change.  The high half wraps without touching state or epoch. */
	} while (!atomic_compare_exchange_weak_explicit(&slot->owner, &w, w + BEAT_ONE,
							 memory_order_relaxed,
							 memory_order_relaxed));
	/* For people reading `shmemora hosts`: our wall clock, never compared. */
	atomic_store_explicit(&slot->heartbeat_ns, clock_ns(CLOCK_REALTIME), memory_order_relaxed);
	return 0;
}

int hosts_holds(const struct registry *reg, uint32_t host_id, uint32_t epoch)
{
	/* Seq_cst: totally ordered with the publishing CAS before it (a check
	 * after publishing) and with a reclaimer's CAS on this word. */
	uint64_t w = atomic_load_explicit(&reg->slots[host_id].owner, memory_order_seq_cst);
	return held_at(w, epoch) ? 0 : fenced(host_id, epoch, w);
}

void hosts_observe(const struct registry *reg)
{
	uint64_t still;
	for (uint32_t i = 0; i < reg->count; i++)
		observe(reg, i, &still);
}

int hosts_reclaim_dead(struct registry *reg, uint32_t host_id)
{
	struct host_slot *slot = &reg->slots[host_id];
	uint64_t still;
	uint64_t w = observe(reg, host_id, &still);
	if (judge(reg, host_id, w, still, &reg->self) != V_DEAD)
		return error_set(SHMEMORA_E_BUSY, "host slot %u is not held by a dead host", host_id);
	uint64_t freed = owner_word(OWNER_FREE, owner_epoch(w) + 1, 0);
	/* Acq_rel: as a claim, and fails if the holder beat since we looked. */
	if (!atomic_compare_exchange_strong_explicit(&slot->owner, &w, freed,
						     memory_order_acq_rel, memory_order_acquire))
		return error_set(SHMEMORA_E_BUSY, "host slot %u changed meanwhile", host_id);
	return 0;
}

void hosts_describe(const struct registry *reg, uint32_t host_id,
		    const struct host_identity *self, shmemora_host *out)
{
	const struct host_slot *slot = &reg->slots[host_id];
	uint64_t still;
	uint64_t w = observe(reg, host_id, &still);
	enum verdict v = judge(reg, host_id, w, still, self ? self : &reg->self);
	struct host_identity id;
	read_identity(slot, &id);
	memset(out, 0, sizeof *out);
	out->host_id = host_id;
	out->epoch = owner_epoch(w);
	out->pid = (int32_t)id.pid;
	out->heartbeat_unix_ns = atomic_load_explicit(&slot->heartbeat_ns, memory_order_relaxed);
	out->heartbeats = owner_state(w) == OWNER_ATTACHED ? owner_high(w) : 0;
	out->unchanged_ms = (uint32_t)(still / 1000000ull);
	memcpy(out->boot_id, id.boot_id, sizeof out->boot_id);
	out->same_machine = same_machine(&id, self ? self : &reg->self);
	if (v == V_FREE)
		out->state = SHMEMORA_HOST_FREE;
	else if (v == V_DEAD)
		out->state = SHMEMORA_HOST_DEAD;
	else
		out->state = owner_state(w) == OWNER_CLAIMING ? SHMEMORA_HOST_CLAIMING
							       : SHMEMORA_HOST_ATTACHED;
}

bool hosts_incarnation_alive(const struct registry *reg, uint32_t host_id, uint32_t epoch)
{
	if (host_id >= reg->count)
		return false;
	shmemora_host h;
	hosts_describe(reg, host_id, NULL, &h);
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
