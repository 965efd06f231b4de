#!/usr/bin/env bash
# verify.sh — model-checks SHMemora's protocols with Spin (model/*.pml), as
# TAP.  Every property is checked exhaustively; then, for each model, a
# mutant with one protocol step removed must be caught, which shows the
# model really exercises what it claims to.  Used by `make verify` and by
# `make test` (tests/cli/test_model.sh).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# model:property for every ltl claim
props="revoke:immediate revoke:no_orphan publish:whole publish:done index:single free:no_double_allocation
       extent:no_double_allocation extent:kept_while_used extent:no_block_lost"
# model:property:name:sed-expression — the mutant (test mutant_MODEL_NAME) must
# violate the property
mutants=(
	"revoke:no_orphan:no_orphan:s/:: state != LIVE -> atomic { if :: child == LIVE -> child = REVOKED :: else fi }/:: state != LIVE -> skip/"
	"publish:whole:whole:s/:: s1 == s2 -> torn/:: true -> torn/"
	"index:single:single:s/:: v >= 1 \&\& v < 3 \&\& i < mine ->/:: false ->/"
	"free:no_double_allocation:no_double_allocation:s|HEAD((h / 4 + 1) % 16, \([nb]\))|HEAD(0, \1)|g"
	# claim makes the extent held in its first CAS, before it resets the list
	# and the bump pointer (the bug commit d7eb58d fixed)
	"extent:no_double_allocation:claim_held_before_reset:s/mine = WORD(GEN(w), A, 0, cls, 0)/mine = WORD(GEN(w), A, 1, cls, 0)/"
	# take_from does not refuse an extent that is not held (the other half of
	# that fix)
	"extent:no_double_allocation:take_from_unheld:s/ || !HELD(w) || LIVE(w) >= BLOCKS(cls) -> break/ || LIVE(w) >= BLOCKS(cls) -> break/"
	# a free counts down before it pushes
	"extent:kept_while_used:count_down_before_push:s/push_chain(); count_down()/count_down(); push_chain()/"
	# take pops or carves first and counts the blocks after
	"extent:kept_while_used:take_before_reserve:s/state = w + n; ok = 1/ok = 1/;s/if :: got < n -> state = state - (n - got); bad = 1 :: else fi/state = state + got; if :: got < n -> bad = 1 :: else fi/"
	# let_go only clears held, never gives an empty extent back
	"extent:no_block_lost:let_go_keeps_empty:s/if :: LIVE(w) == 0 -> nw = EMPTY_WORD(GEN(w) + 1) :: else -> nw = w \& 247 fi/nw = w \& 247/"
)
total=$(( $(echo $props | wc -w) + ${#mutants[@]} ))
echo "1..$total"
if ! command -v spin >/dev/null 2>&1; then
	for p in $props; do echo "not ok - # SKIP model_${p/:/_} (spin not installed)"; done
	for m in "${mutants[@]}"; do echo "not ok - # SKIP mutant_$(echo "$m" | cut -d: -f1,3 | tr : _) (spin not installed)"; done
	exit 0
fi

# run MODEL_FILE PROPERTY -> prints "errors states"
run() {
	(cd "$work" && cp "$1" m.pml && spin -a m.pml >/dev/null 2>&1 &&
	 cc -O2 -DNFAIR=3 -o pan pan.c 2>/dev/null &&
	 ./pan -a -f -N "$2" -m500000 2>&1 | awk '/errors:/ {e=$NF} /states, stored/ {s=$1} END {print e, s}')
}

n=0 states=0
for p in $props; do
	model=${p%%:*} prop=${p#*:}
	read -r errors stored < <(run "$top/model/$model.pml" "$prop")
	n=$((n + 1)); states=$((states + ${stored:-0}))
	if [ "${errors:-x}" = 0 ]; then
		echo "ok $n - model_${model}_${prop} holds (${stored} states)"
	else
		echo "not ok $n - model_${model}_${prop} (errors: ${errors:-spin failed})"
	fi
done
for m in "${mutants[@]}"; do
	model=$(echo "$m" | cut -d: -f1) prop=$(echo "$m" | cut -d: -f2) name=$(echo "$m" | cut -d: -f3)
	expr=$(echo "$m" | cut -d: -f4-)
	sed "$expr" "$top/model/$model.pml" >"$work/mutant.pml"
	n=$((n + 1))
	if cmp -s "$work/mutant.pml" "$top/model/$model.pml"; then
		echo "not ok $n - mutant_${model}_${name}: the mutation did not apply"
		continue
	fi
	read -r errors stored < <(run "$work/mutant.pml" "$prop")
	if [ "${errors:-0}" != 0 ]; then
		echo "ok $n - mutant_${model}_${name} caught (${prop} fails without the step)"
	else
		echo "not ok $n - mutant_${model}_${name} not caught: ${prop} holds, the model misses the step"
	fi
done
echo "# $states states explored over $(echo $props | wc -w) properties"
