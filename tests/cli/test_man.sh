#!/usr/bin/env bash
# test_man.sh BUILD — the man pages (help2man from --help) build and render
# without warnings, and the bash completion loads and completes.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
build=${1:-build}
B=$build/shmemora
top=$(cd "$(dirname "$0")/../.." && pwd)
P=/dev/shm/shmemora-man-$$
trap 'rm -f "$P"*; tap_cleanup' EXIT
echo "1..13"

# ---- man pages
man_tests="make_man_builds_both_pages shmemora_1_renders_without_warnings
	kv_1_renders_without_warnings shmemora_1_has_every_command
	shmemora_1_has_the_exit_codes"
if ! command -v help2man >/dev/null; then
	for t in $man_tests; do tap_skip "$t (help2man not installed: make deps)"; done
else
	check make_man_builds_both_pages make -C "$top" --no-print-directory -s man BUILD="$build"
	# renders: man's own formatting with groff's warnings on; any line on
	# stderr is a warning
	renders_clean() {
		local err
		command -v man >/dev/null || { echo "man not installed"; return 1; }
		err=$(MANWIDTH=80 man --warnings -l "$1" 2>&1 >/dev/null) || return 1
		[ -z "$err" ] && return 0
		echo "$err"; return 1
	}
	if command -v man >/dev/null; then
		check shmemora_1_renders_without_warnings renders_clean "$build/man/shmemora.1"
		check kv_1_renders_without_warnings renders_clean "$build/man/kv.1"
	else
		tap_skip "shmemora_1_renders_without_warnings (man not installed)"
		tap_skip "kv_1_renders_without_warnings (man not installed)"
	fi
	has_every_command() {
		local c page
		page=$(MANWIDTH=200 man -l "$build/man/shmemora.1" 2>/dev/null) ||
			page=$(cat "$build/man/shmemora.1")
		for c in $("$B" --help | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }'); do
			grep -q "Usage: shmemora $c" <<<"$page" || { echo "no section for $c"; return 1; }
		done
	}
	check shmemora_1_has_every_command has_every_command
	check_output shmemora_1_has_the_exit_codes 'integrity error' cat "$build/man/shmemora.1"
fi

# ---- bash completion
C=$top/completion/shmemora.bash
# complete WORD...: what _shmemora offers for the last word of the line.
complete_line() {
	bash -c '. "$0" || exit 1; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _shmemora &&
		printf "%s\n" "${COMPREPLY[@]}"' "$C" "$@"
}
check_output completion_registers_for_shmemora '_shmemora shmemora' bash -c ". '$C' && complete -p shmemora"
check_output --equals completes_commands $'keys' complete_line "$B" k
check_output --equals completes_token_subcommands $'derive\ngc\ninspect\nlist\nrevoke' complete_line "$B" token ''
check_output --equals completes_ns_subcommands $'create\ndelete\nlimit\nlist\nstat' complete_line "$B" ns ''
check_output --equals completes_options_from_help '--match' complete_line "$B" keys P NS --ma
check_output --equals completes_coherence_modes $'coherent\nflush' complete_line "$B" create P --coherence ''
touch "$P" "$P.key" "$P.root-token"
check_output --equals completes_pool_paths_not_their_key_files "$P" complete_line "$B" info "$P"
check_output --equals completes_token_files_after_at "@$P.root-token" complete_line "$B" get --token "@$P.r"
