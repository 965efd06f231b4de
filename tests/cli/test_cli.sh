#!/usr/bin/env bash
# test_cli.sh BUILD — the shmemora command: output, exit codes, --help, the
# conventions every subcommand shares (exit-code table, tokens, create's
# options), and sharing a pool with a group.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/shmemora
top=$(cd "$(dirname "$0")/../.." && pwd)
P=/dev/shm/shmemora-cli-$$
cleanup_pools() { rm -f "$P"* ; }
trap 'cleanup_pools; tap_cleanup' EXIT
echo "1..40"

expect_exit 0 create_default_1g "$B" create "$P" --size 1G
check key_file_is_mode_0600 test "$(stat -c %a "$P.key")" = 600
check pool_file_is_mode_0600 test "$(stat -c %a "$P")" = 600
check_output info_json_shows_geometry '"capabilities": 65536' "$B" info "$P" --json
check_output -E info_json_shows_protection_mode '"protection": "(mpk|software)"' "$B" info "$P" --json
check_output -E info_text_says_protection_plainly '^protection +(mpk|software)' "$B" info "$P"
expect_exit 2 create_over_existing_pool_is_usage_error "$B" create "$P"
expect_exit 1 info_of_missing_pool_is_not_found "$B" info /dev/shm/shmemora-cli-none
expect_exit 2 info_of_non_pool_is_bad_input "$B" info /etc/hostname
expect_exit 2 info_of_directory_is_bad_input "$B" info /dev/shm
expect_exit 2 bad_size_is_usage_error "$B" create "$P-2" --size 12Q
expect_exit 2 too_small_pool_is_refused "$B" create "$P-small" --size 256K
check too_small_pool_leaves_no_file test ! -e "$P-small" -a ! -e "$P-small.key"
"$B" create "$P-2" --size 16M >/dev/null 2>&1
expect_exit 3 wrong_key_is_access_denied "$B" info "$P" --key-file "$P-2.key"
# Damage byte 60 of both superblock copies: an integrity error.
for off in 60 4156; do printf '\xff' | dd of="$P-2" bs=1 seek=$off conv=notrunc status=none; done
expect_exit 4 corrupt_pool_is_integrity_error "$B" info "$P-2"
every_subcommand_has_help() {
	local c n=0
	for c in $("$B" --help | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }'); do
		output_matches "^Usage: shmemora $c" "$B" "$c" --help || return 1
		n=$((n + 1))
	done
	[ "$n" -ge 12 ] || { echo "--help lists $n commands"; return 1; }
}
check help_on_every_subcommand every_subcommand_has_help
expect_exit 0 top_level_help "$B" --help
expect_exit 2 unknown_command_is_usage_error "$B" frobnicate
check_output --equals hosts_json_lists_nothing_when_detached '[]' "$B" hosts "$P" --json

# ---- the exit-code table: written once (tools/cli.c), printed by --help;
# README.md's table must say the same, code by code.
help_exit_codes() {
	"$B" --help | awk '/^Exit codes:/ { f = 1; next }
		f && /^  [0-9] / { if (c != "") print c " " m; c = $1; m = $0
				   sub(/^  [0-9]  /, "", m); next }
		f && /^     / { sub(/^ +/, ""); m = m " " $0 }
		END { if (c != "") print c " " m }'
}
readme_exit_codes() {
	awk '/^## Exit codes of `shmemora`/ { f = 1; next } f && /^## / { exit }
		f && /^\| [0-9] \|/ { print }' "$top/README.md" |
		sed -E 's/^\| ([0-9]) \| (.*) \|$/\1 \2/'
}
readme_table_matches_help() {
	local help readme
	help=$(help_exit_codes) && readme=$(readme_exit_codes) || return 1
	[ "$(wc -l <<<"$help")" -eq 6 ] || { echo "--help lists $(wc -l <<<"$help") codes, not 6"; return 1; }
	[ "$help" = "$readme" ] && return 0
	echo "README.md's exit codes differ from shmemora --help:"
	diff <(echo "$readme") <(echo "$help")
	return 1
}
check readme_exit_code_table_says_what_help_says readme_table_matches_help
# Errors through the same table: not found 1, usage 2, denied 3, integrity 4.
expect_exit 1 get_from_missing_namespace_exits_1 "$B" get "$P" nons key

# ---- create: one table of options, each reaching its own setter.
"$B" create "$P-o" --size 64M --hosts 3 --namespaces 64 --max-key 2K --max-value 64K \
	--raw-size 0 --lease-ms 1000 --capabilities 1024 --index-slots 4096 \
	--coherence flush >/dev/null 2>&1
create_options_reach_their_setters() {
	local json
	json=$("$B" info "$P-o" --json) || return 1
	local want
	for want in '"max": 3' '"lease_ms": 1000' '"max_key": 2048' '"max_value": 65536' \
		'"capabilities": 1024' '"index_slots": 4096' '"namespaces": 64' \
		'"coherence": "flush"' '"raw_area": { "offset": [0-9]*, "size": 0 }'; do
		grep -q "$want" <<<"$json" || { echo "info --json lacks $want"; return 1; }
	done
}
check create_options_reach_their_setters create_options_reach_their_setters
max_hosts=$(sed -nE 's/^#define SHMEMORA_MAX_HOSTS ([0-9]+)u.*/\1/p' "$top/include/shmemora.h")
check_output create_help_takes_the_host_limit_from_the_header "--hosts N .*1\\.\\.$max_hosts " \
	"$B" create --help
expect_exit 2 hosts_past_the_limit_are_refused "$B" create "$P-3" --hosts $((max_hosts + 1))
expect_exit 2 missing_option_value_is_usage_error "$B" create "$P-3" --size
stderr_of() { "$@" 2>&1 >/dev/null; }
check_output --status 2 --count 1 unknown_option_is_one_line_naming_it "--frob" \
	stderr_of "$B" create "$P-3" --frob

# ---- tokens: text, @FILE, or the pool's root token file by default.
"$B" ns create "$P-o" t >/dev/null 2>&1
check_output --status 2 token_file_without_at_gets_a_hint "did you mean @$P-o.root-token?" \
	stderr_of "$B" put "$P-o" t k v --token "$P-o.root-token"
expect_exit 0 token_at_file_is_read "$B" put "$P-o" t k v --token "@$P-o.root-token"
root=$(cat "$P-o.root-token")
expect_exit 0 token_as_text_is_read "$B" put "$P-o" t k2 v --token "$root"
expect_exit 0 no_token_uses_the_root_token_file "$B" get "$P-o" t k
mv "$P-o.root-token" "$P-o.moved"
check_output --status 1 missing_root_token_file_says_what_to_do "give --token" \
	stderr_of "$B" get "$P-o" t k
mv "$P-o.moved" "$P-o.root-token"

# ---- --group: pool 0660 and key 0640 owned by the group, root token 0600.
group=$(id -gn)
expect_exit 0 create_with_a_group "$B" create "$P-g" --size 16M --group "$group"
check group_pool_file_is_0660_and_the_group_s test "$(stat -c '%a %G' "$P-g")" = "660 $group"
check group_key_file_is_0640_and_the_group_s test "$(stat -c '%a %G' "$P-g.key")" = "640 $group"
check group_root_token_stays_0600 test "$(stat -c %a "$P-g.root-token")" = 600
check_output --status 2 unknown_group_is_usage_error "no group named" \
	stderr_of "$B" create "$P-4" --group no-such-group-here
# Someone outside the group may not share a pool with it: E_PERMISSION, exit 3.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && getent passwd nobody >/dev/null; then
	expect_exit 3 group_the_creator_is_not_in_is_permission_denied \
		setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$B" create "$P-5" --size 16M --group root
else
	tap_skip "group_the_creator_is_not_in_is_permission_denied (needs root, setpriv and user nobody)"
fi
check refused_group_create_leaves_no_file test ! -e "$P-5" -a ! -e "$P-5.key"

expect_exit 0 destroy_removes_pool "$B" destroy "$P"
check destroy_removed_pool_key_and_root_token test ! -e "$P" -a ! -e "$P.key" -a ! -e "$P.root-token"
