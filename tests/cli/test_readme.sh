#!/usr/bin/env bash
# test_readme.sh BUILD — README.md does what it says.
#
# The Quick start block runs line by line, in one shell, as a user pasting it
# would (on a pool path of its own instead of /dev/shm/pool, with BUILD for
# build/).  Each line is a test: it exits 0, or, when its comment says
# "refused, exit N", exits N; a line whose comment is a value the block
# stores ("# hello", "# Ada Lovelace") prints exactly that.  A line ending
# in & runs in the background, and is waited for before destroy.
#
# Then the README's pkg-config line with an rpath builds examples/kv_hello.c
# against a copy installed into a prefix, and the program runs without
# LD_LIBRARY_PATH (it exited 127 when the README gave no such line).
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
POOL=/dev/shm/shmemora-readme-$$
background=()
trap 'for p in "${background[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$work"; rm -f "$POOL" "$POOL".*; tap_cleanup' EXIT
cd "$top" || exit 1

# The first sh block after "## Quick start", with the pool path and the
# build directory of this run.
awk '/^## Quick start/ { f = 1 } f && /^```sh/ { b = 1; next } b && /^```/ { exit } b' README.md |
	sed -e "s#/dev/shm/pool#$POOL#g" -e "s#\\(^\\|[ (]\\)build/#\\1$build/#g" >"$work/block"
mapfile -t lines < <(grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*#' "$work/block")
install_tests=2
echo "1..$(( ${#lines[@]} + 1 + install_tests ))"
check quick_start_block_found_with_ten_lines_or_more test "${#lines[@]}" -ge 10

# line_test N LINE: runs LINE here (its variables stay for the next lines).
line_test() {
	local n=$1 line=$2 comment='' want_status=0 want_output='' rc out
	[[ $line == *'# '* ]] && comment=${line##*# }
	if [[ $comment =~ refused,\ exit\ ([0-9]+) ]]; then
		want_status=${BASH_REMATCH[1]}
	elif [[ $comment == refused* ]]; then
		want_status=any
	fi
	case $comment in hello|"Ada Lovelace") want_output=$comment ;; esac
	if [[ ${line%%#*} =~ \&[[:space:]]*$ ]]; then
		eval "${line%%#*}" >/dev/null 2>&1
		background+=("$!")
		sleep 0.5
		return 0
	fi
	if [[ $line == *" destroy "* ]]; then
		for p in "${background[@]}"; do wait "$p" 2>/dev/null; done
		background=()
	fi
	eval "$line" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	out=$(cat "$work/out")
	if [ "$want_status" = any ] && [ "$rc" -eq 0 ]; then
		echo "exits 0, but the README says it is refused"; return 1
	elif [ "$want_status" != any ] && [ "$rc" -ne "$want_status" ]; then
		echo "exits $rc, the README says $want_status"; sed 's/^/  /' "$work/err"; return 1
	fi
	if [ -n "$want_output" ] && [ "$out" != "$want_output" ]; then
		echo "prints '$out', the README says '$want_output'"; return 1
	fi
	return 0
}
for i in "${!lines[@]}"; do
	line=${lines[$i]}
	name=${line%%#*}
	name="quick_start_line_$((i + 1)): ${name:0:60}"
	name=${name%"${name##*[![:space:]]}"}
	# not through check: it must run here, so that the variables a line
	# sets stay for the lines after it
	if line_test "$((i + 1))" "$line" >"$tap_out" 2>&1; then tap_ok "$name"; else tap_not_ok "$name"; fi
done

# ---- the README's pkg-config line against an installed copy.
case $build in
*address*|*thread*)
	tap_skip "readme_pkg_config_line_builds_against_an_install (sanitizer build)"
	tap_skip "program_built_so_runs_without_ld_library_path (sanitizer build)"
	exit 0 ;;
esac
if ! command -v pkg-config >/dev/null 2>&1; then
	tap_skip "readme_pkg_config_line_builds_against_an_install (pkg-config not installed)"
	tap_skip "program_built_so_runs_without_ld_library_path (pkg-config not installed)"
	exit 0
fi
cc_line=$(grep -m1 -e '^cc examples/kv_hello.c .*-Wl,-rpath' README.md)
stage=$work/prefix
build_as_the_readme_says() {
	[ -n "$cc_line" ] || { echo "README.md has no 'cc examples/kv_hello.c ... -Wl,-rpath' line"; return 1; }
	make -C "$top" --no-print-directory -s install BUILD="$build" PREFIX="$stage" >/dev/null ||
		return 1
	mkdir -p "$work/app/examples" && cp examples/kv_hello.c "$work/app/examples/" || return 1
	(cd "$work/app" && PKG_CONFIG_PATH="$stage/lib/pkgconfig" eval "$cc_line")
}
check readme_pkg_config_line_builds_against_an_install build_as_the_readme_says
"$build/shmemora" create "$POOL" --size 64M >/dev/null 2>&1
check_output program_built_so_runs_without_ld_library_path 'hello, shared memory' \
	env -u LD_LIBRARY_PATH "$work/app/kv_hello" "$POOL"
