/*
 * free.pml — cross-host free on one extent's free list (alloc.c: pop_free,
 * release_blocks).
 *
 * Pops take blocks from a Treiber stack whose head packs a tag (bumped on
 * every change) with the top block; each block popped is handed to another
 * host, which later frees it by pushing it back.  Pops and pushes race.
 * Two poppers run (in the code, two threads of the extent's owning host
 * that both hold a reservation in it, or a stale process still acting for
 * the same host slot after it was fenced): the case the tag exists for.
 * With one popper ABA cannot arise; without the tag, two poppers
 * double-allocate, which `make verify` also shows by checking a tagless
 * mutant.  The reservations, the count and the extent's life are in
 * extent.pml.
 *
 * Property: a block is never handed out twice at once (no double
 * allocation), which a stale next link (ABA) would cause.
 */
#define NONE 3
#define HEAD(t, b) ((t) * 4 + (b))

byte head = HEAD(0, 0);
byte nxt[3];
bool allocated[3];
bool double_alloc;
chan handoff = [3] of { byte };

proctype owner()
{
	byte h, top, n, pops = 0;
	do
	:: pops == 2 -> break
	:: pops < 2 ->
		h = head;
		top = h % 4;
		if
		:: top == NONE -> skip
		:: else ->
			n = nxt[top];
			atomic {
				if
				:: head == h ->
					head = HEAD((h / 4 + 1) % 16, n);
					double_alloc = double_alloc || allocated[top];
					allocated[top] = true;
					handoff ! top
				:: else
				fi
			}
		fi;
		pops++
	od
}

proctype remote()
{
	byte b, h, frees = 0;
end:	do
	:: frees == 3 -> break
	:: handoff ? b ->
		allocated[b] = false;
again:		h = head;
		nxt[b] = h % 4;
		atomic { if :: head == h -> head = HEAD((h / 4 + 1) % 16, b) :: else -> goto again fi };
		frees++
	od
}

init { atomic { nxt[0] = 1; nxt[1] = 2; nxt[2] = NONE; run owner(); run owner(); run remote() } }

ltl no_double_allocation { [] !double_alloc }
