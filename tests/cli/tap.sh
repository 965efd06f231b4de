# tap.sh — tiny TAP helpers for the shell tests (sourced, not run).
# check NAME COMMAND...: runs COMMAND, ok if it exits 0.
# expect_exit CODE NAME COMMAND...: ok if COMMAND exits with CODE.
tap_n=0
tap_out=$(mktemp)
tap_cleanup() { rm -f "$tap_out"; }
trap tap_cleanup EXIT
tap_ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
tap_not_ok() {
	tap_n=$((tap_n + 1)); echo "not ok $tap_n - $1"
	sed 's/^/# /' "$tap_out"
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
