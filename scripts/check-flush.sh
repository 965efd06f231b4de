#!/usr/bin/env bash
# check-flush.sh FORM [BUILD] — flush mode under the cache model
# (docs/coherence.md), then the mutation check that shows the model bites.
#
#   FORM   quick: the suite is test_flush, test_backend and test_check, at
#          the default eviction rate (make test runs this form through
#          tests/cli/test_flush_model.sh);
#          long: the whole model suite (below), first at eviction rates 0,
#          the default and 500 per mille with SHMEMORA_FLUSH_ROUNDS=4, then
#          each mutant against it (make check-flush, make stress).
#   BUILD  the cache model tree (default build-model: make build-model).
#
# 1. The suite runs under the model, once with SHMEMORA_MODEL_SITES set, so
#    each process records the coherence call sites it ran and which of them
#    touched the modelled (non-coherent) part of the pool.
# 2. The sites are every coherence_writeback( and coherence_invalidate( call
#    in src/*.c, found in the sources, so new ones are picked up unedited.
#    A site the suite ran that only ever named sync-area words is listed
#    apart: under flush mode's assumption it does nothing (it should go).
#    Every other site is mutated: with SHMEMORA_MODEL_SKIP=FILE:LINE that
#    one call does nothing, and the suite must fail.  A site the suite never
#    ran counts as not caught.
# 3. Prints "N of M sites caught"; exit status 0 only when N = M (and the
#    unmutated suite passed).
#
# Output is TAP: one test for the suite under the model, one per mutated
# site, so tests/run-tests.sh can run it.
set -u -o pipefail
form=${1:-quick}
top=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$top/build-model}
case $form in
quick) suite=(test_flush test_backend test_check) ;;
long) suite=(test_flush test_backend test_check test_kv test_kv_model test_kv_hosts test_crash
	     test_undo test_limits test_scan test_attack test_hosts test_cli test_token_cli) ;;
*) echo "check-flush.sh: FORM is quick or long, not '$form'" >&2; exit 2 ;;
esac
work=$(mktemp -d)
pools=$(mktemp -d /dev/shm/check-flush.XXXXXX)
trap 'rm -rf "$work" "$pools"' EXIT
for t in "${suite[@]}"; do
	if [ ! -x "$build/tests/$t" ] && [ ! -f "$top/tests/cli/$t.sh" ]; then
		echo "Bail out! $build/tests/$t is not built: run make build-model"
		exit 1
	fi
done

# Shorter runs of the long tests for each mutant: the first failure is all
# a mutant needs, and the baseline runs them in full.
mutant_env=(SHMEMORA_TEST_SECONDS=3 SHMEMORA_CRASH_KILLS=15 SHMEMORA_SPACE_OPS=200000)

# run_suite LOG ENV... : runs the suite under the model, stops at the first
# failing program; status 0 when all passed.  The failing program's name
# goes to LOG.fail.
# A failed test leaves its pools behind: each run makes them in $pools,
# emptied after it.
run_suite() {
	local log=$1; shift
	local t rc=0
	for t in "${suite[@]}"; do
		if ! env SHMEMORA_TEST_DIR="$pools" "$@" timeout 300 "$top/tests/run-tests.sh" \
			"$build" "$t" >>"$log" 2>&1; then
			echo "$t" >"$log.fail"
			rc=1
			break
		fi
	done
	find "$pools" -mindepth 1 -delete
	return $rc
}

# The call sites, FILE:LINE, as __FILE__ and __LINE__ name them (make
# compiles src/NAME.c by that path); comment lines are not calls.
sites=$(cd "$top" && grep -n -E '\bcoherence_(writeback|invalidate)\(' src/*.c |
	grep -v -E '^src/(coherence|cachemodel)\.c:' |
	grep -v -E '^[^:]+:[0-9]+:[[:space:]]*(\*|/\*|//)' | cut -d: -f1,2)
nsites=$(echo "$sites" | grep -c .)

# ------------------------------------------------------------ the suite
if [ "$form" = long ]; then
	rates=(0 default 500)
else
	rates=(default)
fi
plan=$(( ${#rates[@]} + nsites ))
echo "1..$plan"
n=0
for rate in "${rates[@]}"; do
	n=$((n + 1))
	env_rate=()
	[ "$rate" != default ] && env_rate=(SHMEMORA_MODEL_EVICT="$rate")
	[ "$form" = long ] && env_rate+=(SHMEMORA_FLUSH_ROUNDS=4)
	log=$work/suite-$rate.log
	: >"$work/sites.log"
	if run_suite "$log" SHMEMORA_MODEL_SITES="$work/sites.log" "${env_rate[@]}"; then
		echo "ok $n - suite_under_the_cache_model_evicting_${rate}_per_mille"
	else
		echo "not ok $n - suite_under_the_cache_model_evicting_${rate}_per_mille ($(cat "$log.fail") failed)"
		sed 's/^/# /' "$log" | tail -60
		for s in $sites; do n=$((n + 1)); echo "not ok $n - site_$s # the suite fails unmutated"; done
		echo "# 0 of $nsites sites caught: the suite must pass under the model first"
		exit 1
	fi
	cat "$work/sites.log" >>"$work/sites.all"
done

# --------------------------------------------------------- the mutants
caught=0 mutated=0 sync_only=() missed=()
for s in $sites; do
	n=$((n + 1))
	if ! grep -qx "$s call" "$work/sites.all"; then
		mutated=$((mutated + 1)); missed+=("$s (never ran)")
		echo "not ok $n - site_$s: the suite never runs it"
		continue
	fi
	if ! grep -qx "$s data" "$work/sites.all"; then
		sync_only+=("$s")
		echo "ok $n - site_$s # SKIP names only sync-area words (coherent by assumption: remove the call)"
		continue
	fi
	mutated=$((mutated + 1))
	log=$work/mutant.log
	rm -f "$log" "$log.fail"
	if run_suite "$log" SHMEMORA_MODEL_SKIP="$s" "${mutant_env[@]}"; then
		missed+=("$s")
		echo "not ok $n - site_$s: removing it fails no test"
	else
		caught=$((caught + 1))
		echo "ok $n - site_$s caught by $(cat "$log.fail")"
	fi
done

echo "# $caught of $mutated sites caught (each removed in turn; $form form)"
for s in "${missed[@]}"; do echo "# not caught: $s"; done
if [ ${#sync_only[@]} -gt 0 ]; then
	echo "# ${#sync_only[@]} more sites name only sync-area words, which flush mode assumes coherent; they do nothing and should go: ${sync_only[*]}"
fi
[ "$caught" -eq "$mutated" ]
