#!/usr/bin/env bash
# run-tests.sh BUILD_DIR [TEST...] — runs every test program and script (or
# only the named ones), reads their TAP output, and ends with one line:
# "N passed, N failed, N skipped".  Exit status 1 if anything failed.
#
# It fails closed.  Each of these is a failure, by name:
#  - a program with no plan line (1..N), or more than one;
#  - a plan it does not finish (each test never reported counts as failed);
#  - a test numbered outside its plan, or a number reported twice;
#  - "Bail out!", or a non-zero exit status;
#  - "# TODO" on a test line: an unfinished test is not a pass;
#  - a program listed in tests/expected-programs that is not built, or one
#    built (or in tests/cli) that is not listed, or a listed C test with no
#    source in the Makefile's TEST_SRC.  With TEST names on the command line
#    (make check-sanitize, make stress), exactly those are expected; a name
#    is looked up in BUILD_DIR/tests, then BUILD_DIR/stress, then tests/cli.
# A test line without a number takes the next one, as TAP says.
#
# Skips, "ok N # SKIP why" and "not ok N # SKIP why" (any case), are listed
# by name and never counted as passed.  An MPK skip (its name or reason says
# "mpk", any case) is a failure where /proc/cpuinfo shows the pku and ospke
# flags, or when REQUIRE_MPK=1, whatever the library itself detects.
#
# Environment:
#   REQUIRE_MPK=1       every MPK skip is a failure (0 or unset: see above).
#   SHMEMORA_TESTS_DIR  the tests directory to use instead of this script's:
#                       its cli/test_*.sh, expected-programs, and the
#                       Makefile in its parent (tests/cli/test_runner.sh).
#   SHMEMORA_CPUINFO    a file read instead of /proc/cpuinfo (ditto).
#   SHMEMORA_TEST_TIMEOUT  seconds a program may run (default 1800, far
#                       beyond any long form): a hang is then a failure by
#                       name, "timed out", instead of a run that never ends.
set -u
test_timeout=${SHMEMORA_TEST_TIMEOUT:-1800}
build=${1:-build}
shift || true
only=("$@")
tests_dir=${SHMEMORA_TESTS_DIR:-$(cd "$(dirname "$0")" && pwd)}
top=$(cd "$tests_dir/.." && pwd)
cpuinfo=${SHMEMORA_CPUINFO:-/proc/cpuinfo}
passed=0 failed=0 skipped=0
failed_names=() skipped_names=()
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# fail_program NAME WHY: a whole program failed (missing, unexpected, ...).
fail_program() {
	failed=$((failed + 1))
	failed_names+=("$1: $2")
	printf '%-28s FAILED: %s\n' "$1" "$2"
}

# ------------------------------------------------------------------ MPK
case ${REQUIRE_MPK:-0} in
0|1) ;;
*) echo "run-tests.sh: REQUIRE_MPK must be 0 or 1, not '$REQUIRE_MPK'" >&2; exit 2 ;;
esac
cpu_flags=$(grep -m1 '^flags' "$cpuinfo" 2>/dev/null)
has_flag() { [[ " ${cpu_flags#*:} " == *" $1 "* ]]; }
mpk_must_run=
if [ "${REQUIRE_MPK:-0}" = 1 ]; then
	mpk_must_run="REQUIRE_MPK=1; the MPK test must run"
	echo "MPK: REQUIRE_MPK=1: an MPK skip is a failure"
elif [ -z "$cpu_flags" ]; then
	# Not knowing must not let an MPK test skip unnoticed on a PKU machine.
	fail_program run-tests.sh "no flags line in $cpuinfo: cannot tell whether MPK tests may skip"
elif has_flag pku && has_flag ospke; then
	mpk_must_run="this CPU has PKU; the MPK test must run"
	echo "MPK: this CPU has the pku and ospke flags: an MPK skip is a failure"
elif has_flag pku; then
	echo "MPK: this CPU has pku but the kernel has not enabled it (no ospke): MPK tests may skip"
else
	echo "MPK: this CPU has no pku flag: MPK tests may skip"
fi

# ------------------------------------------------------------------ TAP
# run_tap NAME COMMAND...: runs a TAP producer and tallies its stdout
# (stderr is shown on failure, never parsed).
run_tap() {
	local name=$1; shift
	local start=$SECONDS
	CMOCKA_MESSAGE_OUTPUT=TAP timeout --kill-after=10 "$test_timeout" "$@" >"$out" 2>"$err" </dev/null
	local rc=$?
	local plan=0 plans=0 plan_dir='' next=1 line neg num rest desc dir reason
	local p=0 f=0 s=0 i
	local nums=() kinds=() texts=() problems=()
	local -A seen=()
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		if [[ $line =~ ^1\.\.([0-9]+)[[:space:]]*(#(.*))?$ ]]; then
			plans=$((plans + 1)); plan=$((10#${BASH_REMATCH[1]})); plan_dir=${BASH_REMATCH[3]}
		elif [[ $line =~ ^(not\ )?ok([[:space:]]+([0-9]+))?([[:space:]]+(.*))?$ ]]; then
			neg=${BASH_REMATCH[1]} num=${BASH_REMATCH[3]} rest=${BASH_REMATCH[5]}
			if [ -n "$num" ]; then num=$((10#$num)); else num=$next; fi
			next=$((num + 1))
			# "DESCRIPTION # DIRECTIVE"; the description may start with "- "
			desc=${rest%%#*} dir=
			[[ $rest == *"#"* ]] && dir=${rest#*#}
			desc=${desc#- }; desc=${desc%"${desc##*[![:space:]]}"}
			nums+=("$num")
			if [ -n "${seen[$num]:-}" ]; then
				kinds+=(dup)
			elif [[ ${dir,,} =~ ^[[:space:]]*todo ]]; then
				kinds+=(todo)
			elif [[ ${dir,,} =~ ^[[:space:]]*skip[[:alpha:]]*[:[:space:]]*(.*)$ ]]; then
				kinds+=(skip)
				# the reason is what follows the SKIP word (in its own case)
				reason=${dir:${#dir}-${#BASH_REMATCH[1]}}
				desc="${desc:+$desc${reason:+: }}$reason"
			elif [ -z "$neg" ]; then
				kinds+=(pass)
			else
				kinds+=(fail)
			fi
			texts+=("$desc")
			seen[$num]=1
		elif [[ $line =~ ^Bail\ out! ]]; then
			problems+=("${line}")
		fi
	done <"$out"

	if [ "$plans" -eq 0 ]; then
		problems+=("no plan line (1..N): cannot tell whether it ran all its tests")
	elif [ "$plans" -gt 1 ]; then
		problems+=("$plans plan lines; a program has one")
	elif [ "$plan" -eq 0 ]; then
		if [[ ${plan_dir,,} =~ ^[[:space:]]*skip[[:alpha:]]*[:[:space:]]*(.*)$ ]]; then
			reason=${plan_dir:${#plan_dir}-${#BASH_REMATCH[1]}}
			if skip_or_fail "$name" "all tests${reason:+: $reason}"; then
				s=$((s + 1))
			else
				f=$((f + 1))
			fi
		else
			problems+=("plan 1..0 runs nothing and gives no SKIP reason")
		fi
	fi
	local what
	for i in "${!nums[@]}"; do
		num=${nums[$i]} what=${texts[$i]:-test ${nums[$i]}}
		if [ "${kinds[$i]}" = dup ]; then
			f=$((f + 1)); failed_names+=("$name: test $num reported twice ($what)")
		elif [ "$plans" -eq 0 ]; then
			f=$((f + 1)); failed_names+=("$name: test $num reported without a plan ($what)")
		elif [ "$num" -lt 1 ] || [ "$num" -gt "$plan" ]; then
			f=$((f + 1))
			failed_names+=("$name: test $num is outside the plan 1..$plan ($what)")
		else case ${kinds[$i]} in
			pass) p=$((p + 1)) ;;
			fail) f=$((f + 1)); failed_names+=("$name: $what") ;;
			todo) f=$((f + 1)); failed_names+=("$name: $what: marked TODO, not a pass") ;;
			skip) if skip_or_fail "$name" "$what"; then s=$((s + 1)); else f=$((f + 1)); fi ;;
		esac fi
	done
	local missing=0 first=
	for ((i = 1; i <= plan; i++)); do
		[ -n "${seen[$i]:-}" ] && continue
		missing=$((missing + 1)); [ -z "$first" ] && first=$i
	done
	if [ "$missing" -gt 0 ]; then
		f=$((f + missing))
		failed_names+=("$name: $missing of the $plan planned tests never reported (the first: test $first)")
	fi
	if { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ $((SECONDS - start)) -ge "$test_timeout" ]; then
		problems+=("timed out after ${test_timeout} s (SHMEMORA_TEST_TIMEOUT)")
	elif [ "$rc" -ne 0 ]; then
		problems+=("exited with status $rc")
	fi
	# A program-level problem fails the program even when every line passed.
	for i in "${problems[@]}"; do failed_names+=("$name: $i"); done
	[ ${#problems[@]} -gt 0 ] && [ "$f" -eq 0 ] && f=1

	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-28s %3d passed, %d failed, %d skipped  (%ds)\n' "$name" "$p" "$f" "$s" \
		$((SECONDS - start))
	if [ "$f" -gt 0 ]; then
		sed 's/^/    | /' "$out"
		[ -s "$err" ] && { echo "    | --- stderr:"; sed 's/^/    | /' "$err"; }
	else
		# Figures a test reports about itself ("# 50 kills survived, ...").
		grep -E '^# [0-9]' "$out" | sed 's/^# /    /'
	fi
	return 0
}

# skip_or_fail NAME TEXT: records a skip, or, for an MPK skip that must not
# happen here, a failure (status 1).
skip_or_fail() {
	if [ -n "$mpk_must_run" ] && [[ ${2,,} == *mpk* ]]; then
		failed_names+=("$1: $2: $mpk_must_run")
		return 1
	fi
	skipped_names+=("$1: $2")
}

# ------------------------------------------------------------ programs
# The list: names one per line, "#" starts a comment.
read_list() {
	sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"
}

# The Makefile's own TEST_SRC, so the list cannot drift from what it builds.
# A make of its own: under `make test` the parent's jobserver flags make
# it warn, and its stderr is kept apart from the list.
makefile_test_src() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top" \
		-f Makefile -f <(printf 'run-tests-print-test-src:\n\t@echo $(TEST_SRC)\n') \
		run-tests-print-test-src
}

binaries=() scripts=()
if [ ${#only[@]} -gt 0 ]; then
	for name in "${only[@]}"; do
		if [ -f "$build/tests/$name" ]; then binaries+=("$build/tests/$name")
		elif [ -f "$build/stress/$name" ]; then binaries+=("$build/stress/$name")
		elif [ -f "$tests_dir/cli/${name%.sh}.sh" ]; then scripts+=("$tests_dir/cli/${name%.sh}.sh")
		else fail_program "$name" "named on the command line, but neither $build/tests/$name, $build/stress/$name nor $tests_dir/cli/${name%.sh}.sh exists"
		fi
	done
else
	list=$tests_dir/expected-programs
	declare -A expected=() present=() sources=()
	if [ ! -r "$list" ]; then
		fail_program expected-programs "cannot read $list"
	else
		while IFS= read -r name; do
			[ -n "${expected[$name]:-}" ] && fail_program "$name" "listed twice in $list"
			expected[$name]=1
		done < <(read_list "$list")
	fi
	if src=$(makefile_test_src 2>"$err"); then
		for f in $src; do
			case $f in
			*/test_*.c) f=${f##*/}; sources[${f%.c}]=1 ;;
			*) fail_program Makefile "TEST_SRC names '$f', not a tests/<dir>/test_*.c" ;;
			esac
		done
	else
		fail_program Makefile "cannot list TEST_SRC from $top/Makefile: $(cat "$err")"
	fi
	for t in "$build"/tests/test_*; do
		[ -f "$t" ] && present[${t##*/}]=$t
	done
	for t in "$tests_dir"/cli/test_*.sh; do
		[ -f "$t" ] && present[${t##*/}]=$t
	done
	for name in $(printf '%s\n' "${!present[@]}" "${!sources[@]}" | sort -u); do
		[ -n "${expected[$name]:-}" ] && continue
		if [ -n "${present[$name]:-}" ]; then
			fail_program "$name" "${present[$name]} is not in $list: add it there (a stale binary? make clean)"
		else
			fail_program "$name" "the Makefile builds $name (TEST_SRC) but it is not in $list"
		fi
	done
	for name in $(printf '%s\n' "${!expected[@]}" | sort); do
		if [ -z "${present[$name]:-}" ]; then
			case $name in
			*.sh) fail_program "$name" "listed in $list, but $tests_dir/cli/$name does not exist" ;;
			*) fail_program "$name" "listed in $list, but $build/tests/$name was not built" ;;
			esac
			continue
		fi
		case $name in
		*.sh) scripts+=("${present[$name]}") ;;
		*) binaries+=("${present[$name]}")
		   [ -n "${sources[$name]:-}" ] ||
			fail_program "$name" "listed in $list, but no tests/*/$name.c in the Makefile's TEST_SRC" ;;
		esac
	done
fi

for t in "${binaries[@]}"; do
	run_tap "${t##*/}" "$t"
done
for t in "${scripts[@]}"; do
	name=${t##*/}
	run_tap "${name%.sh}" bash "$t" "$build"
done

echo
for n in "${skipped_names[@]}"; do echo "skipped: $n"; done
for n in "${failed_names[@]}"; do echo "FAILED: $n"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
