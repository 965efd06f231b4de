/*
 * harden.c — hardened mode (see harden.h for what it owns, stops and
 * cannot stop).
 *
 * The order of the steps matters, because the last ones cannot be undone:
 * check that the kernel takes filters; move the secrets and the arena onto
 * guards and reserve a guard below the pool; build every filter in memory;
 * and only then set no_new_privs and "not dumpable", load the filters and
 * seal the mappings.  A failure before the first load leaves the process
 * as it was, but for the moved mappings, which work where they are (the
 * guards are given back); a load that fails after another succeeded leaves
 * a filter on that nothing can take off, and says so.
 *
 * Range rules.  libseccomp compares each argument on its own, once per
 * rule, so "addr + len > lo" cannot be written.  Instead the address space
 * below hi is cut into aligned power-of-two blocks, each one rule that
 * matches its block with a masked comparison of the address:
 *   - a block inside [lo, hi) refuses every length;
 *   - a block [x - b, x) below lo refuses a length greater than lo - x +
 *     page.  The kernel refuses an unaligned address before anything else,
 *     so the only addresses that matter are pages, the highest of which in
 *     the block is x - page; a range from any of them longer than that
 *     reaches lo.  So every range that overlaps [lo, hi) is refused: the
 *     rules are sound.
 * Below lo they also refuse some ranges that stop short of it: from an
 * address low in a block, up to b - page bytes short.  Blocks are at most
 * max(guard, lo - x) bytes, where the guard is the address space below lo
 * that holds nothing but ours: the other protected mappings, the secrets'
 * header and the PROT_NONE reservations made here.  A range that ends
 * below the guard is then refused only if it is longer than the guard
 * (b > guard needs b <= lo - x, and a range refused from that block is
 * longer than lo - x): a munmap, mprotect, madvise or MAP_FIXED mmap of
 * more than 256 MiB that ends less than its own length below a protected
 * mapping.  That is the one false refusal (docs/security.md), and the
 * randomized test in tests/attack/test_harden.c holds the rules to both
 * halves of this paragraph.
 *
 * Size.  About 40 to 65 blocks per mapping and seven rules per block (five
 * system calls over a range, MAP_FIXED mmap, mremap onto a range).  Each
 * pair of system call and mapping gets a filter of its own: libseccomp's
 * merging of the rules of one system call grows steeply with their number
 * (150 of them took minutes), and one BPF program holds 4096 instructions.
 * So 22 filters, about 12 000 instructions, under the kernel's 32 768 for
 * all the filters of a thread.  Every system call pays for the filters
 * being there (about 8 ns more for getppid on the development VM); the
 * ones they judge by their arguments pay more (madvise: about 440 ns).
 */
#include "harden.h"
#include "cpu.h"
#include "error.h"

#include <errno.h>
#include <seccomp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_mseal
#if defined(__x86_64__)
#define SYS_mseal 462
#endif
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Address space reserved below each protected mapping (PROT_NONE, no
 * memory): ranges that end below it are never refused falsely unless they
 * are longer than it. */
#define GUARD_BYTES (256ull << 20)

static _Atomic bool active;
static struct harden_report last;

bool harden_active(void)
{
	return atomic_load(&active);
}

int shmemora_hardened(void)
{
	return harden_active();
}

const struct harden_report *harden_last(void)
{
	return &last;
}

/* --------------------------------------------------------- the decision */

/* Either the config or the environment turns it on; an environment that
 * says something else than 0 or 1 is a mistake worth stopping for: a
 * misspelt security switch must not quietly mean "off". */
static int wanted(int asked, bool *on)
{
	const char *env = getenv("SHMEMORA_HARDEN");
	bool from_env = false;
	if (env && *env) {
		if (strcmp(env, "1") == 0)
			from_env = true;
		else if (strcmp(env, "0") != 0)
			return error_set(SHMEMORA_E_INVALID, "SHMEMORA_HARDEN is '%s': it must be "
					 "0 or 1 (1 turns hardened mode on)", env);
	}
	*on = asked || from_env;
	return 0;
}

int harden_available(void)
{
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)
		return error_set(SHMEMORA_E_UNSUPPORTED, "hardened mode needs seccomp, and this "
				 "kernel was built without it (CONFIG_SECCOMP)");
#ifdef SECCOMP_GET_ACTION_AVAIL
	uint32_t action = SECCOMP_RET_ERRNO;
	if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0)
		return error_set(SHMEMORA_E_UNSUPPORTED, "hardened mode needs seccomp filters "
				 "(CONFIG_SECCOMP_FILTER, Linux 4.14 or later): %s", strerror(errno));
#endif
	if (seccomp_api_get() < 2)
		return error_set(SHMEMORA_E_UNSUPPORTED, "hardened mode needs seccomp's "
				 "thread synchronisation (libseccomp API level 2, Linux 3.17)");
	return 0;
}

/* ------------------------------------------------------------ the spans */

static uint64_t page_bytes(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) & ~(to - 1);
}

static void collect_spans(const struct harden_target *t, struct harden_span span[HARDEN_SPANS])
{
	uint64_t page = page_bytes();
	span[0] = (struct harden_span){ (uintptr_t)t->pool_base,
					(uintptr_t)t->pool_base + t->pool_size, 0 };
	for (int i = 0; i < HARDEN_MOVABLE; i++) {
		void *at;
		uint64_t len;
		t->where(t->arg, i, &at, &len);
		span[1 + i] = (struct harden_span){ (uintptr_t)at,
						    (uintptr_t)at + round_up(len, page), 0 };
	}
}

/* Address space this process reserved as guards (PROT_NONE, no memory),
 * given back if hardening fails, and the secrets' header page, which is
 * ours too: what lies below each span without a break in what is ours. */
struct interval {
	uint64_t lo, hi;
};
static struct interval reserved[HARDEN_SPANS], header;

static void *reserve(void *at, uint64_t size, int flags)
{
	void *p = mmap(at, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | flags,
		       -1, 0);
	if (p != MAP_FAILED && at && p != at) { /* a kernel before 4.17 took it as a hint */
		munmap(p, size);
		return MAP_FAILED;
	}
	return p;
}

/* Reserves up to GUARD_BYTES of the free address space right below `lo`:
 * the largest pieces that fit, one below the other, down to a page, so it
 * fills the space up to the first mapping below (none if that is at lo). */
static struct interval reserve_below(uint64_t lo)
{
	uint64_t x = lo;
	for (uint64_t size = GUARD_BYTES; size >= page_bytes(); size /= 2)
		if (lo - x + size <= GUARD_BYTES && size <= x &&
		    reserve((void *)(uintptr_t)(x - size), size, MAP_FIXED_NOREPLACE) != MAP_FAILED)
			x -= size;
	return (struct interval){ x, lo };
}

/* Reserves GUARD_BYTES + `len` anywhere; the span moves into the top `len`
 * bytes and the rest stays below it as its guard. */
static uint8_t *reserve_for_move(uint64_t len, int slot)
{
	uint8_t *r = reserve(NULL, GUARD_BYTES + len, 0);
	if (r == MAP_FAILED)
		return NULL;
	reserved[slot] = (struct interval){ (uintptr_t)r, (uintptr_t)r + GUARD_BYTES };
	return r;
}

static void release_guards(void)
{
	for (int i = 0; i < HARDEN_SPANS; i++) {
		if (reserved[i].hi > reserved[i].lo)
			munmap((void *)(uintptr_t)reserved[i].lo, reserved[i].hi - reserved[i].lo);
		reserved[i] = (struct interval){ 0, 0 };
	}
}

/*
 * The library maps the secrets and the arena wherever the kernel finds
 * room, often a small hole between other mappings, whose neighbours below
 * would then see their own munmap or mprotect refused (a munmap that glibc
 * must not see fail: it aborts when a cached thread stack will not go).  So
 * they move to the top of fresh reservations of GUARD_BYTES, their pages
 * and key with them (mremap), and every pointer to them is rebound.  A move
 * that cannot be made leaves them where they were.  The pool mapping stays
 * put (the registry and every context point into it); it gets a guard
 * below it if the space there is free.
 */
static void move_under_guards(const struct harden_target *t)
{
	for (int i = 0; i < HARDEN_MOVABLE; i++) {
		uint64_t len = t->footprint(t->arg, i);
		uint8_t *r = reserve_for_move(len, 1 + i);
		if (r && t->move(t->arg, i, r + GUARD_BYTES) == 0) {
			if (i == HARDEN_SECRETS) /* its header page moved with it */
				header = (struct interval){ (uintptr_t)r + GUARD_BYTES,
							    (uintptr_t)r + GUARD_BYTES + len };
		} else if (r) {
			munmap(r, GUARD_BYTES + len);
			reserved[1 + i] = (struct interval){ 0, 0 };
		}
	}
	error_clear(); /* a move that failed is not an error */
}

/* For each span: how far below lo the address space is ours without a
 * break (the spans, the reservations, the secrets' header). */
static void measure_guards(struct harden_span span[HARDEN_SPANS])
{
	struct interval ours[2 * HARDEN_SPANS + 1];
	int n = 0;
	for (int i = 0; i < HARDEN_SPANS; i++) {
		ours[n++] = (struct interval){ span[i].lo, span[i].hi };
		ours[n++] = reserved[i];
	}
	ours[n++] = header;
	for (int i = 0; i < HARDEN_SPANS; i++) {
		uint64_t x = span[i].lo;
		for (bool moved = true; moved;) {
			moved = false;
			for (int j = 0; j < n; j++)
				if (ours[j].lo < x && ours[j].hi >= x)
					x = ours[j].lo, moved = true;
		}
		span[i].guard = span[i].lo - x;
	}
}

/* ---------------------------------------------------------- the filters */

/* The system calls refused over a range: address argument, length argument
 * and, for two of them, the flag that makes them replace what is there. */
struct range_call {
	const char *name;
	long nr;                /* fallback when libseccomp does not know the name */
	unsigned addr, len;     /* argument positions */
	int flag_arg;           /* -1: none */
	uint64_t flag;
};

static const struct range_call range_calls[] = {
	{ "mprotect", SYS_mprotect, 0, 1, -1, 0 },
	{ "pkey_mprotect", SYS_pkey_mprotect, 0, 1, -1, 0 },
	{ "munmap", SYS_munmap, 0, 1, -1, 0 },
	{ "madvise", SYS_madvise, 0, 1, -1, 0 },
	{ "mremap", SYS_mremap, 0, 1, -1, 0 },
	{ "mmap", SYS_mmap, 0, 1, 3, MAP_FIXED },             /* mapping over them */
	{ "mremap", SYS_mremap, 4, 2, 3, MREMAP_FIXED },      /* moving onto them */
};
#define RANGE_CALLS (sizeof range_calls / sizeof range_calls[0])

static int syscall_nr(const char *name, long fallback)
{
	int nr = seccomp_syscall_resolve_name(name);
	return nr == __NR_SCMP_ERROR ? (int)fallback : nr;
}

static scmp_filter_ctx new_filter(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return NULL;
	/* Every thread, and a system call of another ABI (whose arguments
	 * these rules do not describe) is refused, not let through. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) != 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM)) != 0) {
		seccomp_release(ctx);
		return NULL;
	}
	return ctx;
}

/* One rule of `call` over the block [start, start + size), refusing
 * lengths above `min_len` (UINT64_MAX: none; 0 with `any`: every one). */
static int add_block(scmp_filter_ctx ctx, const struct range_call *call, uint64_t start,
		     uint64_t size, bool any, uint64_t min_len)
{
	struct scmp_arg_cmp cmp[3];
	unsigned n = 0;
	cmp[n++] = SCMP_CMP64(call->addr, SCMP_CMP_MASKED_EQ, ~(size - 1), start);
	if (!any)
		cmp[n++] = SCMP_CMP64(call->len, SCMP_CMP_GT, min_len);
	if (call->flag_arg >= 0)
		cmp[n++] = SCMP_CMP64((unsigned)call->flag_arg, SCMP_CMP_MASKED_EQ, call->flag,
				      call->flag);
	return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM),
				      syscall_nr(call->name, call->nr), n, cmp);
}

/* Every block of one span for one call; counts the rules. */
static int add_span(scmp_filter_ctx ctx, const struct range_call *call,
		    const struct harden_span *s, unsigned *rules)
{
	uint64_t page = page_bytes();
	int rc = 0;
	/* Inside: aligned blocks covering [lo, hi) exactly. */
	for (uint64_t x = s->lo; x < s->hi && rc == 0; (*rules)++) {
		uint64_t b = x & -x;
		while (x + b > s->hi || x + b < x)
			b >>= 1;
		rc = add_block(ctx, call, x, b, true, 0);
		x += b;
	}
	/* Below: blocks no larger than max(guard, distance to lo). */
	for (uint64_t x = s->lo; x > 0 && rc == 0; (*rules)++) {
		uint64_t dist = s->lo - x, cap = dist > s->guard ? dist : s->guard;
		uint64_t b = x & -x;
		while (b > cap && b > page)
			b >>= 1;
		rc = add_block(ctx, call, x - b, b, false, dist + page);
		x -= b;
	}
	return rc;
}

static int add_rule(scmp_filter_ctx ctx, const char *name, long nr, unsigned n,
		    const struct scmp_arg_cmp *cmp)
{
	return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EPERM), syscall_nr(name, nr), n, cmp);
}

/* The filter of everything that is not a range. */
static int add_fixed_rules(scmp_filter_ctx ctx, int pkey)
{
	static const struct { const char *name; long nr; } always[] = {
		{ "ptrace", SYS_ptrace },
		{ "process_vm_readv", SYS_process_vm_readv },
		{ "process_vm_writev", SYS_process_vm_writev },
		{ "process_madvise", SYS_process_madvise },
		{ "pidfd_getfd", SYS_pidfd_getfd },
		{ "io_uring_setup", SYS_io_uring_setup },
		{ "io_uring_enter", SYS_io_uring_enter },
		{ "io_uring_register", SYS_io_uring_register },
		{ "userfaultfd", SYS_userfaultfd },
		{ "remap_file_pages", SYS_remap_file_pages },
	};
	int rc = 0;
	for (size_t i = 0; i < sizeof always / sizeof always[0] && rc == 0; i++)
		rc = add_rule(ctx, always[i].name, always[i].nr, 0, NULL);
	/* A new shared mapping of a file: MAP_SHARED (or MAP_SHARED_VALIDATE,
	 * which holds its bit) without MAP_ANONYMOUS.  The kernel takes a
	 * descriptor only without MAP_ANONYMOUS, so this is every shared file
	 * mapping whatever the descriptor argument holds. */
	struct scmp_arg_cmp shared = SCMP_A3_64(SCMP_CMP_MASKED_EQ, MAP_SHARED | MAP_ANONYMOUS,
						MAP_SHARED);
	if (rc == 0)
		rc = add_rule(ctx, "mmap", SYS_mmap, 1, &shared);
	struct scmp_arg_cmp remap = SCMP_A2_64(SCMP_CMP_MASKED_EQ, SHM_REMAP, SHM_REMAP);
	if (rc == 0)
		rc = add_rule(ctx, "shmat", SYS_shmat, 1, &remap);
	if (rc == 0 && pkey >= 0) {
		/* The kernel reads the key as an int: compare the low 32 bits. */
		struct scmp_arg_cmp key = SCMP_A0_64(SCMP_CMP_MASKED_EQ, 0xffffffffu,
						     (uint64_t)pkey);
		rc = add_rule(ctx, "pkey_free", SYS_pkey_free, 1, &key);
	}
	return rc;
}

/* BPF instructions of a filter, as libseccomp would load it. */
static int count_instructions(scmp_filter_ctx ctx, unsigned *out)
{
	int fd = memfd_create("shmemora-harden", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = seccomp_export_bpf(ctx, fd);
	struct stat st;
	if (rc == 0 && fstat(fd, &st) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0)
		*out = (unsigned)(st.st_size / 8);
	return rc;
}

#define FILTERS (1 + RANGE_CALLS * HARDEN_SPANS)
#define MAX_PROGRAM 4096   /* BPF_MAXINSNS */
#define MAX_TOTAL 30000    /* of the kernel's 32768 for all of a thread's filters */

static void release_filters(scmp_filter_ctx ctx[FILTERS])
{
	for (unsigned i = 0; i < FILTERS; i++) {
		if (ctx[i])
			seccomp_release(ctx[i]);
		ctx[i] = NULL;
	}
}

static int build_filters(scmp_filter_ctx ctx[FILTERS], const struct harden_span span[HARDEN_SPANS],
			 int pkey, struct harden_report *r)
{
	memset(ctx, 0, sizeof(scmp_filter_ctx) * FILTERS);
	int rc = 0;
	for (unsigned f = 0; f < FILTERS && rc == 0; f++) {
		if (!(ctx[f] = new_filter())) {
			rc = -ENOMEM;
			break;
		}
		if (f == 0) {
			rc = add_fixed_rules(ctx[f], pkey);
			continue;
		}
		rc = add_span(ctx[f], &range_calls[(f - 1) / HARDEN_SPANS],
			      &span[(f - 1) % HARDEN_SPANS], &r->rules);
	}
	unsigned total = 0;
	for (unsigned f = 0; f < FILTERS && rc == 0; f++) {
		unsigned n = 0;
		rc = count_instructions(ctx[f], &n);
		if (rc == 0 && n > MAX_PROGRAM)
			rc = -E2BIG;
		total += n + 4; /* the kernel's count: each program plus 4 */
	}
	if (rc == 0 && total > MAX_TOTAL)
		rc = -E2BIG;
	if (rc) {
		release_filters(ctx);
		return error_set(SHMEMORA_E_IO, "hardened mode: cannot build the seccomp filter: "
				 "%s", strerror(-rc));
	}
	r->filters = FILTERS;
	r->instructions = total;
	return 0;
}

/* mseal(2) of every span; true if the kernel took them all. */
static bool seal(const struct harden_span span[HARDEN_SPANS])
{
#ifdef SYS_mseal
	bool all = true;
	for (int s = 0; s < HARDEN_SPANS; s++)
		if (syscall(SYS_mseal, (unsigned long)span[s].lo,
			    (unsigned long)(span[s].hi - span[s].lo), 0UL) != 0)
			all = false;
	return all;
#else
	(void)span;
	return false;
#endif
}

/* ------------------------------------------------------------- harden */

int harden_process(const struct harden_target *t, int asked)
{
	bool on = false;
	int rc = wanted(asked, &on);
	if (rc || !on)
		return rc;
	if (harden_active())
		return 0; /* unreachable in practice: the filter refuses the mapping
			   * any later attach needs */
	if ((rc = harden_available()))
		return rc;

	struct harden_report r;
	memset(&r, 0, sizeof r);
	memset(reserved, 0, sizeof reserved);
	header = (struct interval){ 0, 0 };
	move_under_guards(t);
	collect_spans(t, r.span);
	reserved[0] = reserve_below(r.span[0].lo);
	measure_guards(r.span);
	scmp_filter_ctx ctx[FILTERS];
	if ((rc = build_filters(ctx, r.span, t->pkey, &r))) {
		release_guards();
		return rc;
	}
	(void)cpu_features(); /* its probe of the kernel's keys runs before the filter */

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		rc = error_set(SHMEMORA_E_IO, "hardened mode: prctl(PR_SET_NO_NEW_PRIVS): %s",
			       strerror(errno));
		goto undo;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		rc = error_set(SHMEMORA_E_IO, "hardened mode: prctl(PR_SET_DUMPABLE, 0): %s",
			       strerror(errno));
		goto undo;
	}
	for (unsigned f = 0; f < FILTERS; f++) {
		int e = seccomp_load(ctx[f]);
		if (e == 0)
			continue;
		rc = error_set(SHMEMORA_E_IO, "hardened mode: loading seccomp filter %u of %u: "
			       "%s%s", f + 1, (unsigned)FILTERS, strerror(-e),
			       f ? " (the filters loaded before it stay on for the life of "
				   "the process; exit it)" : "");
		release_filters(ctx);
		if (f == 0)
			release_guards();
		return rc;
	}
	release_filters(ctx);
	r.sealed = seal(r.span);
	last = r;
	atomic_store(&active, true);
	return 0;
undo:
	release_filters(ctx);
	release_guards();
	return rc;
}
