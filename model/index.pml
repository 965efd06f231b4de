/*
 * index.pml — publishing a new key through tentative slots (index.c).
 *
 * Two writers insert the same new key into a window of three slots, and
 * either may die at any step.  Each claims the first empty slot
 * TENTATIVE, scans the others, and: if it finds the key confirmed, or
 * tentative at a lower position by a live writer, withdraws (and, if a
 * copy is confirmed, stops: it would replace that one); a dead writer's
 * tentative slot is cleared; otherwise it confirms its own.  Readers see
 * confirmed slots only.
 *
 * Property: never two confirmed copies of the key.
 */
#define W 3
#define EMPTY 0
/* slot values: 1+i tentative by writer i, 3+i confirmed by writer i */

byte slot[W];
bool dead[2];
bool two;

inline confirmed_count(n) {
	n = (slot[0] >= 3) + (slot[1] >= 3) + (slot[2] >= 3)
}

proctype writer(byte me)
{
	byte mine, i, v, n, tries = 0;
again:
	if :: tries == 3 -> goto out :: else -> tries++ fi;
	mine = W;
	atomic {
		i = 0;
		do
		:: i < W && slot[i] == EMPTY -> slot[i] = 1 + me; mine = i; break
		:: i < W && slot[i] != EMPTY -> i++
		:: i == W -> break
		od
	};
	if :: mine == W -> goto out :: else fi;
	if :: skip :: dead[me] = true; goto out fi;
	i = 0;
	do
	:: i == W -> break
	:: i < W && i == mine -> i++
	:: i < W && i != mine ->
		v = slot[i];
		if
		:: v >= 3 -> atomic { if :: slot[mine] == 1 + me -> slot[mine] = EMPTY :: else fi };
			goto out                                  /* confirmed copy: replace it */
		:: v >= 1 && v < 3 && i < mine ->
			if
			:: dead[v - 1] -> atomic { if :: slot[i] == v -> slot[i] = EMPTY :: else fi }; i++
			:: else -> atomic { if :: slot[mine] == 1 + me -> slot[mine] = EMPTY :: else fi };
				goto again                        /* a live writer ahead: wait */
			fi
		:: else -> i++
		fi
	od;
	if :: skip :: dead[me] = true; goto out fi;
	atomic {
		if
		:: slot[mine] == 1 + me -> slot[mine] = 3 + me
		:: else -> skip                                   /* cleared: give up here */
		fi;
		confirmed_count(n);
		two = two || n > 1
	};
out:	skip
}

init { atomic { run writer(0); run writer(1) } }

ltl single { [] !two }
