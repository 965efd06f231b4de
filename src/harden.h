/*
 * harden.h — hardened mode: a process gives up, for the rest of its life,
 * the system calls that reach a pool's memory around the protected path.
 *
 * What it owns.  The decision (shmemora_config_set_hardened, or the
 * environment's SHMEMORA_HARDEN=1: either one turns it on, neither can
 * turn off what the other asked for), and the measures, all process-wide
 * and permanent:
 *   - no_new_privs, which an unprivileged process needs to install a
 *     seccomp filter, and "not dumpable", so that other processes of the
 *     same user can neither ptrace it, nor read or write its memory with
 *     process_vm_readv/writev or /proc/PID/mem, and its own code, unless it
 *     runs as root, cannot open /proc/self/mem;
 *   - a seccomp filter on every thread that refuses, with EPERM: ptrace,
 *     process_vm_readv/writev, process_madvise and pidfd_getfd; every new
 *     shared file mapping (the second mapping of a pool file that MPK
 *     cannot see); mprotect, pkey_mprotect, munmap, madvise, mremap and
 *     MAP_FIXED mmap over the pool mapping, the secrets or the protected
 *     arena, and mremap onto them; pkey_free of the pool's key; io_uring,
 *     userfaultfd, remap_file_pages and shmat with SHM_REMAP; and every
 *     system call of another ABI (int 0x80, x32);
 *   - mseal(2) of the same mappings where the kernel has it (6.10 on).
 *
 * What it stops, and what it cannot (docs/security.md says it in full):
 * it stops a second shared mapping of the pool file (through a descriptor,
 * /proc/self/fd or a fresh open), re-keying or unmapping the protected
 * mappings, ptrace and cross-process memory calls, in and out.  It cannot
 * stop WRPKRU or XRSTOR gadgets in the process, /proc/self/mem in a process
 * that runs as root (seccomp cannot see paths), reading or writing a
 * file-backed pool with read(2)/write(2) or a private mapping after opening
 * the file again, code that ran before the filter went on, or root.
 *
 * Who calls it: pool.c, once at the end of every successful attach and
 * create (harden_process decides whether there is anything to do).
 */
#ifndef SHMEMORA_HARDEN_H
#define SHMEMORA_HARDEN_H

#include "shmemora.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * What hardened mode protects: the pool mapping, which stays where it is,
 * and two private mappings that move onto guards (the secrets, then the
 * protected arena).  The caller owns them, so it tells how big each one's
 * move is, moves it (rebinding every pointer to it; nonzero when it cannot,
 * and it then stays put) and says where it is afterwards.
 */
#define HARDEN_SECRETS 0
#define HARDEN_ARENA 1
#define HARDEN_MOVABLE 2
struct harden_target {
	void *pool_base;
	uint64_t pool_size;
	int pkey;                                   /* the pool's key, or -1 */
	uint64_t (*footprint)(void *arg, int which); /* bytes a move takes */
	int (*move)(void *arg, int which, void *dest);
	void (*where)(void *arg, int which, void **addr, uint64_t *len);
	void *arg;
};

/* Hardens this process around `t` when `asked` or SHMEMORA_HARDEN asks
 * for it; otherwise does nothing and returns 0.  E_UNSUPPORTED (no seccomp
 * filters in this kernel), E_INVALID (SHMEMORA_HARDEN is neither 0 nor 1),
 * E_IO (a step failed; the message says which, and whether the filter is
 * already partly on).  On E_UNSUPPORTED and E_INVALID nothing was changed. */
int harden_process(const struct harden_target *t, int asked);

/* 0 when this kernel takes seccomp filters, else E_UNSUPPORTED saying why. */
int harden_available(void);

/* Is the filter on in this process? */
bool harden_active(void);

/* What the last harden_pool set up (for tests and diagnostics). */
struct harden_span {
	uint64_t lo, hi;       /* a protected mapping [lo, hi) */
	uint64_t guard;        /* bytes below lo that are ours (guard or protected) */
};
#define HARDEN_SPANS 3
struct harden_report {
	struct harden_span span[HARDEN_SPANS]; /* pool, secrets, arena */
	unsigned filters;      /* seccomp filters installed */
	unsigned instructions; /* BPF instructions in them, all together */
	unsigned rules;        /* range rules among them */
	bool sealed;           /* mseal(2) took every span */
};
const struct harden_report *harden_last(void);

#endif
