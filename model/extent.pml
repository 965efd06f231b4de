/*
 * extent.pml — one extent of the format-3 allocator (alloc.c): claim, take,
 * free, remote-free batches, let go and give back.
 *
 * One extent of UNITS allocation units.  Class 0 has blocks of one unit
 * (UNITS blocks), class 1 blocks of two (one block; the rest of the extent
 * is never carved, as in carve()).  Host A owns and carves it; host B only
 * frees.  Every shared word is the C code's word, and every C atomic
 * operation on it is one step here (a CAS is one atomic block that either
 * writes or reloads, as compare_exchange does):
 *
 *   state   the extent's state word: live count, class, held bit, owner
 *           (0 free, 1 host A) and generation, packed as in alloc.h
 *   head    the free list head: a tag (bumped on every change) and a ref
 *   bump    the bump pointer, in units
 *   nxt[u]  each block's free link: a ref, or MARK (a remote-free batch
 *           mark, never a valid ref)
 *
 * Host A has two threads, each running alloc_block's take(): read
 * current[cls] without the lock, take_from() the extent (check the word,
 * reserve in the count with one CAS, then pop or carve until it has what
 * it reserved), else switch_extent() under the switch lock (adopt || claim
 * || adopt, let_go of the extent it saw, store current[cls]).  A thread may
 * act on a current[] it read long ago: the stale thread of commit d7eb58d.
 * T1 has a magazine (it takes up to two blocks at once) and makes three
 * take() calls, the last of class 0 or 1, so the extent fills, is let go,
 * goes back to the pool and is claimed again, possibly for another class;
 * its blocks are entries that host B deletes.  T2 has no magazine and makes
 * one take() call of class 0; its block is freed by host B or by T2 itself
 * (alloc_free: one read of the word, then release_blocks: push, then count
 * down, giving the extent back when that was its last block and nobody
 * holds it).  Host B is one thread with a batch: its alloc_free reads the
 * word once, and marks and batches the block while the extent is held, or
 * pushes it at once with the blocks of the extent that its batch holds when
 * it is not (release_with_batched); it flushes the batch when it ends
 * (REMOTE_MAX is never reached here).  When every thread is done, host A
 * detaches (alloc_release_host: let_go).
 *
 * Ghost state: out[u] is set while unit u is in a block that is handed out
 * or on its way back (from the pop or carve that takes it to the push that
 * puts it back on the list).
 *
 * Properties:
 *   no_double_allocation  a block is never handed out while a block over
 *                         any of its units is out (no double allocation)
 *   kept_while_used       the extent never goes back to the pool (owner 0)
 *                         while a block of it is out
 *   no_block_lost         no free drops a block or finds the count below
 *                         what it frees, no list or bump pointer looks
 *                         damaged, and once everything is freed and host A
 *                         has let go, the extent is back in the pool (where
 *                         the next claim resets its list and bump pointer)
 *
 * Not modelled: check --repair (a dead host's extents: its grace period is
 * a matter of time, not of order), the magazines' own reuse of blocks
 * (thread-local), other extents, and memory order (sequential consistency).
 */
#define UNITS 2
#define A 1                           /* owner + 1 of host A */
#define MARK 7                        /* a batch mark in a free link */
#define SIZE(c) ((c) + 1)
#define BLOCKS(c) (UNITS / SIZE(c))
#define ROUNDS 3                      /* take()'s rounds (extent_count + 8 in alloc.c) */

/* state word: live bits 0-1, class bit 2, held bit 3, owner bit 4, gen 5-6 */
#define LIVE(w) ((w) & 3)
#define CLS(w) (((w) / 4) & 1)
#define HELD(w) (((w) / 8) & 1)
#define OWNER(w) (((w) / 16) & 1)
#define GEN(w) ((w) / 32)
#define WORD(g, o, h, c, l) (((g) % 4) * 32 + (o) * 16 + (h) * 8 + (c) * 4 + (l))
#define EMPTY_WORD(g) WORD(g, 0, 0, 0, 0)
/* list head: tag * 4 + ref (a ref is unit + 1; 0 none) */
#define REF(hd) ((hd) % 4)
#define TAG(hd) ((hd) / 4)
#define HEAD(t, r) (((t) % 16) * 4 + (r))
/* ref_valid(): a block of class c inside the extent */
#define VALID(c, r) ((r) >= 1 && (r) <= UNITS && ((r) - 1) % SIZE(c) == 0 && SIZE(c) <= UNITS - ((r) - 1))

byte state = EMPTY_WORD(0);
byte head = HEAD(0, 0);
byte bump = 0;
byte nxt[UNITS];
bit current[2];                       /* host A's current extent per class, + 1 */
bit lock;                             /* host A's switch lock */
bit out[UNITS];                       /* ghost: see above */
bool double_alloc, given_back_in_use, lost, ended;
chan to_b = [3] of { byte };          /* blocks handed to host B: unit + 4 * class */
byte finished;

#define ANY_OUT (out[0] || out[1])

/* A block of class c at unit u leaves the list or the bump pointer. */
inline take_out(u, c) {
	double_alloc = double_alloc || out[u]; out[u] = 1;
	if :: SIZE(c) == 2 -> double_alloc = double_alloc || out[u + 1]; out[u + 1] = 1 :: else fi
}

inline put_back(u, c) {
	out[u] = 0;
	if :: SIZE(c) == 2 -> out[u + 1] = 0 :: else fi
}

/* Giving back: one CAS writes the empty word of the next generation. */
inline give_back_check() {
	given_back_in_use = given_back_in_use || ANY_OUT
}

/* ---------------------------------------------------------------- freeing */

/* Host B's batch (a set of units) as a chain sorted by offset, emptied. */
#define CHAIN_OF_BATCH() \
	n = 0; u = 0; \
	do \
	:: u < UNITS && (batch & (1 << u)) -> ch[n] = u; n++; u++ \
	:: u < UNITS && !(batch & (1 << u)) -> u++ \
	:: u == UNITS -> break \
	od; \
	batch = 0; u = 0

/* release_blocks(): the chain ch[0..n-1] (sorted units, class bc). */
inline push_chain() {
	i = 0;
	do
	:: i + 1 < n -> nxt[ch[i]] = ch[i + 1] + 1; i++
	:: else -> break
	od;
	hw = head;
	do
	:: nxt[ch[n - 1]] = REF(hw);
	   atomic {
		if
		:: head == hw -> head = HEAD(TAG(hw) + 1, ch[0] + 1); ok = 1;
			i = 0;
			do :: i < n -> put_back(ch[i], bc); i++ :: else -> break od
		:: else -> hw = head; ok = 0
		fi
	   };
	   if :: ok -> break :: else fi
	od
}

inline count_down() {
	s = state;
	do
	:: OWNER(s) == 0 || LIVE(s) < n -> lost = true; break  /* damage, left to check */
	:: else ->
		last = LIVE(s) == n && !HELD(s);
		if :: last -> ns = EMPTY_WORD(GEN(s) + 1) :: else -> ns = s - n fi;
		atomic {
			if
			:: state == s -> state = ns; ok = 1; if :: last -> give_back_check() :: else fi
			:: else -> s = state; ok = 0
			fi
		};
		if :: ok -> break :: else fi
	od
}

inline release_blocks() {
	push_chain(); count_down()
}

/* --------------------------------------------------------- host A: taking */

inline pop_free() {          /* res: 1 popped (off), 0 empty, 2 damaged */
	hw = head;
	do
	:: REF(hw) == 0 -> res = 0; break
	:: REF(hw) != 0 && !VALID(cls, REF(hw)) -> res = 2; break
	:: REF(hw) != 0 && VALID(cls, REF(hw)) ->
		ref = REF(hw);
		nx = nxt[ref - 1];
		if
		:: nx != 0 && !VALID(cls, nx) ->
			/* damage only if the head has not moved */
			now = head;
			if :: now == hw -> res = 2; break :: else -> hw = now fi
		:: else ->
			atomic {
				if
				:: head == hw -> head = HEAD(TAG(hw) + 1, nx); res = 1; off = ref - 1;
					take_out(off, cls)
				:: else -> hw = head; res = 0
				fi
			};
			if :: res == 1 -> break :: else fi
		fi
	od
}

inline carve() {             /* res: 1 carved (off), 0 carved to the end, 2 damaged */
	at = bump;
	do
	:: at % SIZE(cls) != 0 || at > UNITS -> res = 2; break
	:: at % SIZE(cls) == 0 && at <= UNITS && SIZE(cls) > UNITS - at -> res = 0; break
	:: at % SIZE(cls) == 0 && at <= UNITS && SIZE(cls) <= UNITS - at ->
		atomic {
			if
			:: bump == at -> bump = at + SIZE(cls); res = 1; off = at; take_out(off, cls)
			:: else -> at = bump; res = 0
			fi
		};
		if :: res == 1 -> break :: else fi
	od
}

/* take_from(): up to `want` blocks into blk[], got of them; got 0 when
 * refused (not ours, not this class, not held, full); bad when damaged. */
inline take_from() {
	got = 0; n = 0;
	w = state;
	do
	:: OWNER(w) != A || CLS(w) != cls || !HELD(w) || LIVE(w) >= BLOCKS(cls) -> break
	:: else ->
		if :: BLOCKS(cls) - LIVE(w) < want -> n = BLOCKS(cls) - LIVE(w) :: else -> n = want fi;
		atomic { if :: state == w -> state = w + n; ok = 1 :: else -> w = state; n = 0; ok = 0 fi };
		if :: ok -> break :: else fi
	od;
	if
	:: n > 0 ->
		list_ok = 1;
		do               /* the reservation guarantees n blocks: look again */
		:: got == n -> break
		:: else ->
			if :: list_ok -> pop_free() :: else -> res = 0 fi;
			if :: res == 2 -> list_ok = 0; res = 0; lost = true :: else fi;
			if :: res == 0 -> carve() :: else fi;
			if :: res == 2 || (res == 0 && !list_ok) -> lost = true; break :: else fi;
			if :: res == 1 -> blk[got] = off; got++ :: else fi
		od;
		if :: got < n -> state = state - (n - got); bad = 1 :: else fi   /* unreserve: needs damage, never reached */
	:: else
	fi
}

/* ------------------------------------------------- host A: switching */

inline adopt() {             /* room 1: class_blocks / 8 rounds up to 1 here */
	w = state;
	do
	:: OWNER(w) == A && CLS(w) == cls && !HELD(w) && LIVE(w) + 1 <= BLOCKS(cls) ->
		atomic { if :: state == w -> state = w + 8; found = 1 :: else -> w = state fi };
		if :: found -> break :: else fi
	:: else -> break
	od
}

inline claim() {
	w = state;
	if
	:: w != EMPTY_WORD(GEN(w)) -> skip     /* owned (or damaged) */
	:: else ->
		mine = WORD(GEN(w), A, 0, cls, 0);
		atomic { if :: state == w -> state = mine; found = 1 :: else fi };
		if
		:: found ->
			hw = head;                        /* reset: the head keeps its tag moving */
			head = HEAD(TAG(hw) + 1, 0);
			bump = 0;
			atomic { if :: state == mine -> state = mine | 8 :: else -> found = 0 fi }
		:: else
		fi
	fi
}

inline let_go() {
	w = state;
	do
	:: OWNER(w) != A -> break
	:: else ->
		if :: LIVE(w) == 0 -> nw = EMPTY_WORD(GEN(w) + 1) :: else -> nw = w & 247 fi;
		if :: nw == w -> break :: else fi;
		atomic {
			if
			:: state == w -> state = nw; ok = 1; if :: OWNER(nw) == 0 -> give_back_check() :: else fi
			:: else -> w = state; ok = 0
			fi
		};
		if :: ok -> break :: else fi
	od
}

inline switch_extent() {     /* seen: the current[] take() read; nospace */
	/* The lock and current[] are host A's own memory, touched only by
	 * its threads: taking the lock and reading current[] under it are one
	 * step, and so are storing current[] and unlocking (nobody else can
	 * tell them apart). */
	atomic { lock == 0 -> lock = 1; nospace = current[cls] != seen };
	if
	:: nospace -> nospace = 0; lock = 0    /* another thread switched already */
	:: else ->
		found = 0;
		adopt();
		if :: !found -> claim() :: else fi;
		if :: !found -> adopt() :: else fi;
		if :: seen -> let_go() :: else fi;
		atomic { current[cls] = found; lock = 0; nospace = !found }
	fi
}

/* A thread of host A: `takes` calls of take(), each for up to `want` blocks
 * (a thread with a magazine takes several at once), class 1 allowed in the
 * last when class1_last.  Every block taken goes to host B, or, when
 * frees_own, may be freed by this thread (a thread without a magazine:
 * straight back onto the list). */
proctype host_a(byte takes; byte want; bit class1_last; bit frees_own)
{
	byte k, cls, round, w, nw, mine, n, got, res, off, hw, ref, nx, now, at, s, ns, i, bc, j;
	byte blk[2];
	byte ch[UNITS];
	bit seen, ok, list_ok, found, nospace, last, bad;
	do
	:: k == takes -> break
	:: k < takes ->
		k++;
		if :: cls = 0 :: class1_last && k == takes -> cls = 1 fi;
		/* take(): each round takes blocks or moves to another extent */
		round = 0; got = 0; bad = 0;
		do
		:: round == ROUNDS -> break
		:: round < ROUNDS ->
			round++;
			seen = current[cls];
			if :: seen -> take_from() :: else fi;
			if :: got > 0 || bad -> break :: else fi;
			switch_extent();
			if :: nospace -> break :: else fi
		od;
		/* each block taken (to the caller, or into the magazine and
		 * handed out from there) is freed by host B or by this thread */
		j = 0;
		do
		:: j == got -> break
		:: j < got ->
			if
			:: to_b ! blk[j] + 4 * cls
			:: frees_own -> w = state;                /* alloc_free: read once */
				if
				:: OWNER(w) == 0 || CLS(w) != cls || LIVE(w) == 0 -> lost = true
				:: else -> ch[0] = blk[j]; n = 1; bc = cls; release_blocks()
				fi
			fi;
			j++
		od;
		skip;
		d_step { round = 0; w = 0; nw = 0; mine = 0; n = 0; got = 0; res = 0; off = 0; hw = 0;
			 ref = 0; nx = 0; now = 0; at = 0; s = 0; ns = 0; i = 0; bc = 0; j = 0;
			 blk[0] = 0; blk[1] = 0; ch[0] = 0; ch[1] = 0; seen = 0; ok = 0; list_ok = 0;
			 found = 0; nospace = 0; last = 0; bad = 0; cls = 0 }
	od;
	finished++
}

/* Host B: alloc_free of another host's blocks, with a batch. */
proctype host_b()
{
	byte b, w, n, hw, s, ns, i, bc, u, batch;
	byte ch[UNITS];
	bit ok, last;
	do
	:: atomic { to_b ? b -> bc = b / 4; b = b % 4 };
		w = state;                                /* alloc_free: read once */
		if
		:: OWNER(w) == 0 || CLS(w) != bc || LIVE(w) == 0 -> lost = true
		:: else ->
			if
			:: !HELD(w) ->                    /* release_with_batched: at once */
				d_step { batch = batch | (1 << b); CHAIN_OF_BATCH() };
				release_blocks()
			:: else ->                        /* marked, and batched */
				nxt[b] = MARK;
				batch = batch | (1 << b)
			fi
		fi;
		skip;
		d_step { b = 0; w = 0; n = 0; hw = 0; s = 0; ns = 0; i = 0; ch[0] = 0; ch[1] = 0;
			 ok = 0; last = 0; if :: batch == 0 -> bc = 0 :: else fi }
	:: finished == 2 && len(to_b) == 0 && batch == 0 -> finished++; break
	:: finished == 2 && len(to_b) == 0 && batch != 0 ->   /* the thread ends: flush_remote */
		d_step { CHAIN_OF_BATCH() };
		release_blocks()
	od
}

init
{
	byte w, nw;
	bit ok;
	atomic { run host_a(3, 2, 1, 0); run host_a(1, 1, 0, 1); run host_b() };
	finished == 3;                  /* every thread has ended */
	/* alloc_release_host: every magazine flushed (above), current[] forgotten,
	 * the host's extents let go */
	current[0] = 0; current[1] = 0;
	let_go();
	ended = true
}

ltl no_double_allocation { [] !double_alloc }
ltl kept_while_used { [] !given_back_in_use }
ltl no_block_lost { [] (!lost && (ended -> OWNER(state) == 0)) }
