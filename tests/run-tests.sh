#!/usr/bin/env bash
# run-tests.sh BUILD_DIR [TEST...] — runs every test program and script (or
# only the named test programs, or with --script NAME... only those scripts
# of tests/cli), reads their TAP
# output, and ends with one line: "N passed, N failed, N skipped".
# Skipped tests are listed by name (e.g. MPK tests on a CPU without PKU),
# never counted as passed.  A program that dies before finishing its plan
# counts each missing test as failed.  Exit status 1 if anything failed.
set -u
build=${1:-build}
shift || true
only=("$@")
here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
failed_names=() skipped_names=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_tap NAME COMMAND...: runs a TAP producer and tallies its lines.
run_tap() {
	local name=$1; shift
	local start=$SECONDS
	CMOCKA_MESSAGE_OUTPUT=TAP "$@" >"$log" 2>&1
	local rc=$? plan=0 seen=0 p=0 f=0 s=0 line
	while IFS= read -r line; do
		case $line in
		1..*) plan=${line#1..} ;;
		"not ok "*"# SKIP"*)
			seen=$((seen + 1)); s=$((s + 1))
			skipped_names+=("$name: ${line##*# SKIP }") ;;
		"not ok "*)
			seen=$((seen + 1)); f=$((f + 1))
			failed_names+=("$name: ${line#not ok * - }") ;;
		"ok "*)
			seen=$((seen + 1)); p=$((p + 1)) ;;
		esac
	done <"$log"
	if [ "$seen" -lt "$plan" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		local missing=$((plan - seen))
		[ "$missing" -lt 1 ] && missing=1
		f=$((f + missing))
		failed_names+=("$name: exited with status $rc after $seen of $plan tests")
	fi
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	printf '%-28s %3d passed, %d failed, %d skipped  (%ds)\n' "$name" "$p" "$f" "$s" \
		$((SECONDS - start))
	if [ "$f" -gt 0 ]; then
		sed 's/^/    | /' "$log"
	else
		# Figures a test reports about itself ("# 50 kills survived, ...").
		grep -E '^# [0-9]' "$log" | sed 's/^# /    /' || true
	fi
}

if [ ${#only[@]} -gt 1 ] && [ "${only[0]}" = --script ]; then
	# --script NAME...: only these scripts of tests/cli (e.g. test_vm).
	for name in "${only[@]:1}"; do
		run_tap "$name" bash "$here/cli/$name.sh" "$build"
	done
elif [ ${#only[@]} -gt 0 ]; then
	for name in "${only[@]}"; do
		run_tap "$name" "$build/tests/$name"
	done
else
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		run_tap "$(basename "$t")" "$t"
	done
	for t in "$here"/cli/test_*.sh; do
		run_tap "$(basename "$t" .sh)" bash "$t" "$build"
	done
fi

echo
for n in "${skipped_names[@]}"; do echo "skipped: $n"; done
for n in "${failed_names[@]}"; do echo "FAILED: $n"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
