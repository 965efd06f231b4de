# tap.sh — tiny TAP helpers for the shell tests (sourced, not run).  The
# tests set pipefail; a command whose output is checked runs through
# output_matches (or check_output), never into a pipe, so a crash after
# printing what is looked for fails the check.
#
# check NAME COMMAND...: runs COMMAND, ok if it exits 0.
# expect_exit CODE NAME COMMAND...: ok if COMMAND exits with CODE.
# check_output [OPTIONS] NAME PATTERN COMMAND...: ok if output_matches says so.
# output_matches [OPTIONS] PATTERN COMMAND...: runs COMMAND with its stdout
#   captured in a file; true if it exits 0 and a line of that output matches
#   PATTERN (grep's basic regex).  Options:
#     --status CODE  the exit status required instead of 0
#     -E             PATTERN is an extended regex
#     --count N      exactly N lines match (not at least one)
#     --line N       line N matches
#     --equals       the whole output equals PATTERN as a string (trailing
#                    newlines dropped, as "$(COMMAND)" does)
#   Says what it saw when false.  Usable inside a test's own functions.
# replay STATUS OUTPUT: prints OUTPUT and returns STATUS, to check a command
#   that had to run earlier because its output is needed later.
tap_n=0
tap_out=$(mktemp)
tap_cmd_out=$(mktemp)
tap_cleanup() { rm -f "$tap_out" "$tap_cmd_out"; }
trap tap_cleanup EXIT
tap_ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
tap_not_ok() {
	tap_n=$((tap_n + 1)); echo "not ok $tap_n - $1"
	awk '{ print "# " $0 }' "$tap_out"  # a last line without newline ends too
}
tap_skip() { tap_n=$((tap_n + 1)); echo "not ok $tap_n # SKIP $1"; }
check() {
	local name=$1; shift
	if "$@" >"$tap_out" 2>&1; then tap_ok "$name"; else tap_not_ok "$name"; fi
}
expect_exit() {
	local code=$1 name=$2; shift 2
	"$@" >"$tap_out" 2>&1
	local rc=$?
	if [ "$rc" -eq "$code" ]; then tap_ok "$name"
	else echo "exit status $rc, expected $code" >>"$tap_out"; tap_not_ok "$name"; fi
}
output_matches() {
	local status=0 mode=any n='' ere=''
	while :; do
		case $1 in
		--status) status=$2; shift 2 ;;
		-E) ere=-E; shift ;;
		--count) mode=count n=$2; shift 2 ;;
		--line) mode=line n=$2; shift 2 ;;
		--equals) mode=equals; shift ;;
		*) break ;;
		esac
	done
	local pattern=$1; shift
	"$@" >"$tap_cmd_out"
	local rc=$? got
	if [ "$rc" -ne "$status" ]; then
		echo "exit status $rc, expected $status: $*"
		awk '{ print "> " $0 }' "$tap_cmd_out"
		return 1
	fi
	case $mode in
	any) grep -q $ere -e "$pattern" "$tap_cmd_out" && return 0
	     echo "no line matches '$pattern': $*" ;;
	count) got=$(grep -c $ere -e "$pattern" "$tap_cmd_out")
	       [ "$got" -eq "$n" ] && return 0
	       echo "$got lines match '$pattern', expected $n: $*" ;;
	line) got=$(sed -n "${n}p" "$tap_cmd_out")
	      grep -q $ere -e "$pattern" <<<"$got" && return 0
	      echo "line $n does not match '$pattern': $*" ;;
	equals) got=$(cat "$tap_cmd_out")
		[ "$got" = "$pattern" ] && return 0
		echo "output is not exactly '$pattern': $*" ;;
	esac
	awk '{ print "> " $0 }' "$tap_cmd_out"
	return 1
}
check_output() {
	local opts=()
	while :; do
		case $1 in
		--status|--count|--line) opts+=("$1" "$2"); shift 2 ;;
		-E|--equals) opts+=("$1"); shift ;;
		*) break ;;
		esac
	done
	local name=$1; shift
	check "$name" output_matches "${opts[@]}" "$@"
}
replay() { printf '%s\n' "$2"; return "$1"; }
