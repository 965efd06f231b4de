/*
 * publish.pml — lock-free publish and versioned read, with block reuse and
 * a writer that may die at any step (kv.c, index.c).
 *
 * Two blocks, each a seqlock word and a value of two words (a, b).  The
 * writer builds a value in the block not in the slot (seq odd while free or
 * building, even when done), publishes it with one CAS on the slot, then
 * retires the old block (seq made odd) so it can be reused.  The reader
 * loads the slot, the seq, both words one at a time, and the seq again, and
 * accepts only if the seq was even and unchanged.
 *
 * Properties:
 *   whole   an accepted value has a == b (never torn) and was written
 *   done    the reader finishes even if the writer dies anywhere (no lock)
 */
#define N 2
#define VALUES 3

byte seq[N];        /* block 0 starts published with value 0: seq even */
byte va[N], vb[N];
byte slot = 0;
bool torn, reader_done;

init {
	seq[0] = 2; seq[1] = 1;
	va[0] = 0; vb[0] = 0;
	run writer(); run reader()
}

proctype writer()
{
	byte v = 1, old, blk;
	do
	:: v > VALUES -> break
	:: v <= VALUES ->
		old = slot; blk = 1 - old;
		if :: skip :: goto dead fi;
		va[blk] = v;
		if :: skip :: goto dead fi;
		vb[blk] = v;
		if :: skip :: goto dead fi;
		seq[blk]++;                        /* even: complete */
		if :: skip :: goto dead fi;
		atomic { if :: slot == old -> slot = blk :: else fi };   /* publish: CAS */
		if :: skip :: goto dead fi;
		seq[old]++;                        /* retire: odd, free for reuse */
		v++
	od;
dead:	skip
}

proctype reader()
{
	byte reads = 0, blk, s1, s2, x, y;
	do
	:: reads == 3 -> break
	:: reads < 3 ->
		blk = slot;
		s1 = seq[blk];
		if
		:: s1 % 2 == 1 -> skip             /* freed or building: retry */
		:: else ->
			x = va[blk];
			y = vb[blk];
			s2 = seq[blk];
			if
			:: s1 == s2 -> torn = torn || x != y || x > VALUES; reads++
			:: else -> skip            /* changed under us: retry */
			fi
		fi
	od;
	reader_done = true
}

ltl whole { [] !torn }
ltl done { <> reader_done }
