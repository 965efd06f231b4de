#!/usr/bin/env bash
# test_exports.sh BUILD — only shmemora_* symbols leave the libraries.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
build=${1:-build}
echo "1..3"
# only_shmemora AWK_PROGRAM NM_ARGS...: nm succeeds and lists symbols, and
# every name AWK_PROGRAM picks from its output starts with shmemora_.
only_shmemora() {
	local pick=$1 symbols others; shift
	symbols=$(nm "$@") || { echo "nm $* failed"; return 1; }
	[ -n "$symbols" ] || { echo "nm $* listed nothing"; return 1; }
	others=$(awk "$pick" <<<"$symbols" | grep -v '^shmemora_')
	[ -z "$others" ] && return 0
	echo "exported, not shmemora_*:"; echo "$others"; return 1
}
check shared_library_exports_only_shmemora_symbols only_shmemora '{print $3}' \
	-D --defined-only "$build/libshmemora.so"
check static_library_exports_only_shmemora_symbols only_shmemora 'NF==3 {print $3}' \
	-g --defined-only "$build/libshmemora.a"
check_output shared_library_exports_the_api ' shmemora_attach$' \
	nm -D --defined-only "$build/libshmemora.so"
