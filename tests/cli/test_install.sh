#!/usr/bin/env bash
# test_install.sh BUILD — `make install` into a staging prefix, then an
# example program builds with `pkg-config --cflags --libs shmemora` and runs.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d)
P=/dev/shm/shmemora-install-$$
trap 'rm -rf "$stage"; rm -f "$P"*; tap_cleanup' EXIT
echo "1..4"
case $build in
*address*|*thread*)
	# A sanitizer build installs a library that needs its runtime.
	for t in make_install_into_a_prefix pkg_config_knows_shmemora \
		example_builds_with_pkg_config example_runs_against_a_pool; do
		tap_skip "$t (sanitizer build)"
	done
	exit 0 ;;
esac
check make_install_into_a_prefix make -C "$top" --no-print-directory -s install \
	BUILD="$build" PREFIX="$stage"
# make test installs pkg-config (scripts/install-deps.sh); a suite run by
# hand on a machine without it says so by name.
if ! command -v pkg-config >/dev/null 2>&1; then
	for t in pkg_config_knows_shmemora example_builds_with_pkg_config \
		example_runs_against_a_pool; do
		tap_skip "$t (pkg-config not installed)"
	done
	exit 0
fi
export PKG_CONFIG_PATH="$stage/lib/pkgconfig"
check pkg_config_knows_shmemora pkg-config --exists shmemora
build_example() {
	local flags
	flags=$(pkg-config --cflags --libs --static shmemora) || return 1
	# shellcheck disable=SC2086 # the flags are words
	cc -std=c11 "$top/examples/kv_hello.c" $flags -o "$stage/kv_hello"
}
check example_builds_with_pkg_config build_example
"$build/shmemora" create "$P" --size 64M >/dev/null 2>&1
check_output example_runs_against_a_pool 'hello, shared memory' \
	env LD_LIBRARY_PATH="$stage/lib" "$stage/kv_hello" "$P"
