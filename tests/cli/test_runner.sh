#!/usr/bin/env bash
# test_runner.sh BUILD — the harness itself fails closed.  tests/run-tests.sh
# runs fake test programs (shell scripts printing crafted TAP) in temporary
# trees, one bad case per run, and must say so by its exit status, its
# summary line and a FAILED or skipped line naming the case; a good tree and
# a good program must pass, so none of this holds vacuously.  Then tap.sh's
# checks must fail on a command that crashes after printing what they want.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
runner=$(cd "$(dirname "$0")/.." && pwd)/run-tests.sh
work=$(mktemp -d)
trap 'rm -rf "$work"; tap_cleanup' EXIT
echo "1..34"

printf 'processor\t: 0\nflags\t\t: fpu sse sse2 avx2\n' >"$work/cpu-none"
printf 'processor\t: 0\nflags\t\t: fpu sse pku ospke avx2\n' >"$work/cpu-pku"
printf 'processor\t: 0\nflags\t\t: fpu sse pku avx2\n' >"$work/cpu-pku-off"

# tree DIR: an empty tree as run-tests.sh sees one: DIR/tests (with cli/
# and expected-programs), DIR/build/tests, and a Makefile whose TEST_SRC
# is tests/unit/test_*.c.
tree() {
	mkdir -p "$1/tests/cli" "$1/tests/unit" "$1/build/tests"
	printf 'TEST_SRC := $(wildcard tests/unit/test_*.c)\n' >"$1/Makefile"
	: >"$1/tests/expected-programs"
}
# fake FILE SHELL-BODY: an executable that runs SHELL-BODY.
fake() { printf '#!/bin/sh\n%s\n' "$2" >"$1"; chmod +x "$1"; }
# fake_c_test DIR NAME BODY: a listed C test: source, binary, list entry.
fake_c_test() {
	: >"$1/tests/unit/$2.c"
	fake "$1/build/tests/$2" "$3"
	echo "$2" >>"$1/tests/expected-programs"
}
good_tap='printf "1..2\nok 1 - one\nok 2 - two\n"'

# runner_says DIR CODE SUMMARY PATTERN [VAR=VALUE...] [-- TEST...]: the
# runner on tree DIR (no REQUIRE_MPK, a CPU without pku unless VARs say
# otherwise) exits with CODE, its last line is SUMMARY, and a line of its
# output matches PATTERN (extended regex).
runner_says() {
	local dir=$1 code=$2 summary=$3 pattern=$4 vars=()
	shift 4
	while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	env -u REQUIRE_MPK SHMEMORA_TESTS_DIR="$dir/tests" SHMEMORA_CPUINFO="$work/cpu-none" \
		"${vars[@]}" "$runner" "$dir/build" "$@" >"$work/said" 2>&1
	local rc=$? ok=1
	[ "$rc" -eq "$code" ] || { echo "runner exited with status $rc, expected $code"; ok=0; }
	[ "$(tail -n 1 "$work/said")" = "$summary" ] || { echo "last line is not '$summary'"; ok=0; }
	grep -Eq -e "$pattern" "$work/said" || { echo "no line matches '$pattern'"; ok=0; }
	awk '{ print "| " $0 }' "$work/said"
	[ "$ok" = 1 ]
}

# ---------------------------------------------------------------- TAP
# One tree of fake programs, each run by name (only it is expected).
F=$work/fakes
tree "$F"
t=$F/build/tests
fake "$t/test_good" "$good_tap"
fake "$t/test_not_ok" 'printf "1..2\nok 1 - one\nnot ok 2 - broken\n"; exit 1'
fake "$t/test_no_plan" 'printf "ok 1 - one\nok 2 - two\n"'
fake "$t/test_silent" 'exit 0'
fake "$t/test_short_plan" 'printf "1..3\nok 1 - one\nok 2 - two\n"'
fake "$t/test_dup" 'printf "1..3\nok 1 - one\nok 2 - two\nok 3 - three\nok 3 - three\n"'
fake "$t/test_outside" 'printf "1..2\nok 1 - one\nok 2 - two\nok 3 - three\n"'
fake "$t/test_two_plans" 'printf "1..2\nok 1 - one\nok 2 - two\n1..2\n"'
fake "$t/test_exit_after_plan" "$good_tap; exit 1"
fake "$t/test_killed" "$good_tap; kill -SEGV \$\$"
fake "$t/test_hangs" 'printf "1..2\nok 1 - one\n"; exec sleep 600'
fake "$t/test_bail_out" 'printf "1..2\nok 1 - one\nBail out! no pool\n"'
fake "$t/test_unnumbered" 'printf "ok - one\nok - two\n1..2\n"'
fake "$t/test_skips" 'printf "1..4\nok 1 # SKIP no hugetlbfs\nnot ok 2 # skip no numa\nok 3 - named # Skipped: no clang\nok 4 - runs\n"'
fake "$t/test_todo" 'printf "1..2\nnot ok 1 - unfinished # TODO later\nok 2 - lucky # todo later\n"'
fake "$t/test_skip_all" 'printf "1..0 # SKIP no device\n"'
fake "$t/test_empty_plan" 'printf "1..0\n"'
fake "$t/test_mpk" 'printf "1..2\nok 1 - plain\nnot ok 2 # SKIP mpk_store_faults\n"'
fake "$t/test_mpk_reason" 'printf "1..2\nok 1 - plain\nok 2 - store_faults # SKIP no MPK here\n"'

check good_program_passes runner_says "$F" 0 "2 passed, 0 failed, 0 skipped" \
	'^test_good +2 passed' -- test_good
check not_ok_is_a_failure runner_says "$F" 1 "1 passed, 1 failed, 0 skipped" \
	'^FAILED: test_not_ok: broken$' -- test_not_ok
check no_plan_is_a_failure runner_says "$F" 1 "0 passed, 2 failed, 0 skipped" \
	'^FAILED: test_no_plan: no plan line' -- test_no_plan
check exit_0_without_output_is_a_failure runner_says "$F" 1 "0 passed, 1 failed, 0 skipped" \
	'^FAILED: test_silent: no plan line' -- test_silent
check unfinished_plan_is_a_failure runner_says "$F" 1 "2 passed, 1 failed, 0 skipped" \
	'^FAILED: test_short_plan: 1 of the 3 planned tests never reported' -- test_short_plan
check duplicate_ok_is_a_failure_not_a_pass runner_says "$F" 1 "3 passed, 1 failed, 0 skipped" \
	'^FAILED: test_dup: test 3 reported twice' -- test_dup
check ok_outside_the_plan_is_a_failure runner_says "$F" 1 "2 passed, 1 failed, 0 skipped" \
	'^FAILED: test_outside: test 3 is outside the plan 1\.\.2' -- test_outside
check two_plans_are_a_failure runner_says "$F" 1 "2 passed, 1 failed, 0 skipped" \
	'^FAILED: test_two_plans: 2 plan lines' -- test_two_plans
check non_zero_exit_after_the_plan_is_a_failure runner_says "$F" 1 "2 passed, 1 failed, 0 skipped" \
	'^FAILED: test_exit_after_plan: exited with status 1' -- test_exit_after_plan
check killed_after_the_plan_is_a_failure runner_says "$F" 1 "2 passed, 1 failed, 0 skipped" \
	'^FAILED: test_killed: exited with status 139' -- test_killed
check a_hang_is_a_failure_once_its_time_is_up runner_says "$F" 1 "1 passed, 1 failed, 0 skipped" \
	'^FAILED: test_hangs: timed out after 2 s' SHMEMORA_TEST_TIMEOUT=2 -- test_hangs
check bail_out_is_a_failure runner_says "$F" 1 "1 passed, 1 failed, 0 skipped" \
	'^FAILED: test_bail_out: Bail out! no pool' -- test_bail_out
check unnumbered_lines_take_the_next_number runner_says "$F" 0 "2 passed, 0 failed, 0 skipped" \
	'^test_unnumbered +2 passed' -- test_unnumbered
check both_skip_forms_are_skips_not_passes runner_says "$F" 0 "1 passed, 0 failed, 3 skipped" \
	'^skipped: test_skips: no numa$' -- test_skips
check ok_skip_is_listed_by_name runner_says "$F" 0 "1 passed, 0 failed, 3 skipped" \
	'^skipped: test_skips: named: no clang$' -- test_skips
check todo_is_not_a_pass runner_says "$F" 1 "0 passed, 2 failed, 0 skipped" \
	'^FAILED: test_todo: lucky: marked TODO' -- test_todo
check skip_all_plan_is_one_skip runner_says "$F" 0 "0 passed, 0 failed, 1 skipped" \
	'^skipped: test_skip_all: all tests: no device$' -- test_skip_all
check empty_plan_without_reason_is_a_failure runner_says "$F" 1 "0 passed, 1 failed, 0 skipped" \
	'^FAILED: test_empty_plan: plan 1\.\.0' -- test_empty_plan
check mpk_skip_may_skip_without_pku runner_says "$F" 0 "1 passed, 0 failed, 1 skipped" \
	'^MPK: this CPU has no pku flag: MPK tests may skip$' -- test_mpk
check mpk_skip_may_skip_when_the_kernel_has_pku_off runner_says "$F" 0 \
	"1 passed, 0 failed, 1 skipped" '^skipped: test_mpk: mpk_store_faults$' \
	SHMEMORA_CPUINFO="$work/cpu-pku-off" -- test_mpk
check mpk_skip_with_require_mpk_is_a_failure runner_says "$F" 1 "1 passed, 1 failed, 0 skipped" \
	'^FAILED: test_mpk: mpk_store_faults: REQUIRE_MPK=1; the MPK test must run$' \
	REQUIRE_MPK=1 -- test_mpk
check mpk_skip_on_a_pku_cpu_is_a_failure runner_says "$F" 1 "1 passed, 1 failed, 0 skipped" \
	'^FAILED: test_mpk_reason: store_faults: no MPK here: this CPU has PKU; the MPK test must run$' \
	SHMEMORA_CPUINFO="$work/cpu-pku" -- test_mpk_reason
check other_skips_stay_skips_with_require_mpk runner_says "$F" 0 "1 passed, 0 failed, 3 skipped" \
	'^MPK: REQUIRE_MPK=1' REQUIRE_MPK=1 -- test_skips
mkdir -p "$F/build/stress" && fake "$F/build/stress/test_long" "$good_tap"
check named_stress_program_is_found_in_build_stress runner_says "$F" 0 \
	"2 passed, 0 failed, 0 skipped" '^test_long +2 passed' -- test_long
check named_test_that_does_not_exist_is_a_failure runner_says "$F" 1 \
	"0 passed, 1 failed, 0 skipped" '^FAILED: test_absent: named on the command line' -- test_absent

# ------------------------------------------------------- the program list
# Each tree: one listed C test and one listed shell test, both good; then
# one thing wrong.
good_tree() {
	tree "$1"
	fake_c_test "$1" test_a "$good_tap"
	fake "$1/tests/cli/test_s.sh" "$good_tap"
	echo test_s.sh >>"$1/tests/expected-programs"
}
good_tree "$work/ok"
good_tree "$work/extra" && fake "$work/extra/build/tests/test_stale" "$good_tap"
good_tree "$work/extra_sh" && fake "$work/extra_sh/tests/cli/test_new.sh" "$good_tap"
good_tree "$work/missing" && rm "$work/missing/build/tests/test_a"
good_tree "$work/no_source" && rm "$work/no_source/tests/unit/test_a.c"
good_tree "$work/unlisted_source" && : >"$work/unlisted_source/tests/unit/test_b.c"

check good_tree_passes runner_says "$work/ok" 0 "4 passed, 0 failed, 0 skipped" '^test_s +2 passed'
check good_tree_passes_under_a_parent_make runner_says "$work/ok" 0 \
	"4 passed, 0 failed, 0 skipped" '^test_s +2 passed' \
	MAKEFLAGS="-j2 --jobserver-auth=fifo:$work/no-fifo" MAKELEVEL=1
check unexpected_program_is_a_failure runner_says "$work/extra" 1 "4 passed, 1 failed, 0 skipped" \
	'^FAILED: test_stale: .*/build/tests/test_stale is not in .*expected-programs'
check unexpected_script_is_a_failure runner_says "$work/extra_sh" 1 "4 passed, 1 failed, 0 skipped" \
	'^FAILED: test_new\.sh: .*/test_new\.sh is not in .*expected-programs'
check missing_expected_program_is_a_failure runner_says "$work/missing" 1 \
	"2 passed, 1 failed, 0 skipped" '^FAILED: test_a: listed in .*, but .*/build/tests/test_a was not built'
check listed_program_without_source_is_a_failure runner_says "$work/no_source" 1 \
	"4 passed, 1 failed, 0 skipped" "^FAILED: test_a: listed in .*, but no tests/\*/test_a\.c in the Makefile's TEST_SRC"
check unlisted_source_is_a_failure runner_says "$work/unlisted_source" 1 \
	"4 passed, 1 failed, 0 skipped" '^FAILED: test_b: the Makefile builds test_b \(TEST_SRC\) but it is not in'

# ----------------------------------------------------------------- tap.sh
# A command that prints what is looked for and then crashes.
fake "$work/crashes_after_printing" 'echo "shmemora 42"; kill -SEGV $$'
# check_output's verdict, its TAP line, from a subshell with its own
# counter and files.
verdict() {
	local v
	v=$(tap_n=0 tap_out=$work/verdict.out tap_cmd_out=$work/verdict.cmd; check_output "$@")
	echo "${v%%$'\n'*}"
}
check_output check_output_fails_on_a_crash_after_printing '^not ok 1 - crash$' \
	verdict crash '^shmemora ' "$work/crashes_after_printing"
check_output check_output_passes_the_same_output_on_exit_0 '^ok 1 - fine$' \
	verdict fine '^shmemora ' echo "shmemora 42"
