#!/usr/bin/env bash
# test_cli.sh BUILD — the shmemora command: output, exit codes, --help.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/shmemora
P=/dev/shm/shmemora-cli-$$
cleanup_pools() { rm -f "$P"* ; }
trap 'cleanup_pools; tap_cleanup' EXIT
echo "1..21"

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
	local c
	for c in create info hosts destroy; do output_matches Usage "$B" "$c" --help || return 1; done
}
check help_on_every_subcommand every_subcommand_has_help
expect_exit 0 top_level_help "$B" --help
expect_exit 2 unknown_command_is_usage_error "$B" frobnicate
check_output --equals hosts_json_lists_nothing_when_detached '[]' "$B" hosts "$P" --json
expect_exit 0 destroy_removes_pool "$B" destroy "$P"
check destroy_removed_pool_key_and_root_token test ! -e "$P" -a ! -e "$P.key" -a ! -e "$P.root-token"
