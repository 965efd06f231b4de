/*
 * revoke.pml — a token check racing revocation (cached policy), and a
 * derive racing the revocation of its parent (token.c, protect.c).
 *
 * The state word is one machine word (state + generation), read and
 * compare-and-swapped atomically.  A cached verifier accepts while the word
 * equals the one it verified (LIVE, gen 1).  Revoke CASes LIVE(g) to
 * REVOKED(g+1) and then sweeps: a live child whose parent is not live is
 * revoked.  A deriver publishes its child and then re-checks the parent.
 *
 * Properties:
 *   immediate  no access that begins after revoke() returned is accepted
 *   no_orphan  once both revoke and derive are done, the child is not live
 */
#define LIVE 2
#define REVOKED 3

byte state = LIVE;        /* parent entry: state and generation, one word */
byte gen = 1;
byte child = 0;           /* 0 never minted, LIVE, REVOKED */
bool revoke_done, derive_done, late_accept;

active proctype accessor()
{
	bool began_after;
	byte s, g;
	do
	:: began_after = revoke_done;
	   atomic { s = state; g = gen };              /* one atomic load */
	   if
	   :: s == LIVE && g == 1 -> if :: began_after -> late_accept = true :: else fi
	   :: else
	   fi
	:: revoke_done -> break
	od
}

active proctype revoker()
{
	atomic { if :: state == LIVE -> state = REVOKED; gen++ :: else fi };   /* CAS */
	atomic { if :: child == LIVE && state != LIVE -> child = REVOKED :: else fi }; /* sweep */
	revoke_done = true
}

active proctype deriver()
{
	if
	:: atomic { state == LIVE } ->               /* parent verified live */
		child = LIVE;                        /* publish (sequentially consistent) */
		if                                   /* re-check the parent */
		:: state != LIVE -> atomic { if :: child == LIVE -> child = REVOKED :: else fi }
		:: else
		fi
	:: else
	fi;
	derive_done = true
}

ltl immediate { [] !late_accept }
ltl no_orphan { [] ((revoke_done && derive_done) -> child != LIVE) }
