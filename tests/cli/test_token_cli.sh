#!/usr/bin/env bash
# test_token_cli.sh BUILD — `shmemora token` and `shmemora region`: output,
# exit codes (2 malformed, 3 refused), and that refused commands change nothing.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/shmemora
P=/dev/shm/shmemora-tokcli-$$
trap 'rm -f "$P"*; tap_cleanup' EXIT
echo "1..30"

check_output create_prints_the_root_token '^shmemora1_' "$B" create "$P" --size 32M
check root_token_file_is_mode_0600 test "$(stat -c %a "$P.root-token")" = 600
RW=$("$B" token derive "$P" --region 0:4K --rights rwg 2>/dev/null)
derive_status=$?
check_output -E derive_prints_a_token '^shmemora1_[0-9a-f]{4}_[0-9a-f]{16}_[0-9a-f]{32}_[0-9a-f]{8}$' \
	replay "$derive_status" "$RW"
round_trip() {
	printf hello | "$B" region write "$P" --token "$RW" 100 || return 1
	output_matches --equals hello "$B" region read "$P" --token "$RW" 100 5
}
check region_write_then_read_round_trips round_trip
RO=$("$B" token derive "$P" --from "$RW" --region 0:1K --rights r 2>/dev/null)
write_with_read_only() { printf x | "$B" region write "$P" --token "$RO" 0; }
expect_exit 3 read_only_token_cannot_write write_with_read_only
check_output --equals refused_write_changed_nothing hello "$B" region read "$P" --token "$RW" 100 5
expect_exit 3 read_past_the_region_is_refused "$B" region read "$P" --token "$RO" 1020 8
expect_exit 3 derive_without_grant_is_refused "$B" token derive "$P" --from "$RO" --region 0:8 --rights r
expect_exit 3 derive_wider_region_is_refused "$B" token derive "$P" --from "$RW" --region 0:8K --rights r
expect_exit 2 mistyped_token_is_malformed "$B" region read "$P" --token "${RO:0:30}" 0 4
expect_exit 2 bad_rights_letters_are_usage_error "$B" token derive "$P" --region 0:8 --rights rwx
check_output token_list_json_names_scopes '"scope": "region"' "$B" token list "$P" --json
check_output token_inspect_shows_rights ' r ' "$B" token inspect "$P" "$RO"
expect_exit 0 revoke_a_token "$B" token revoke "$P" "$RW"
expect_exit 3 child_of_revoked_token_is_refused "$B" region read "$P" --token "$RO" 0 4
check_output gc_frees_revoked_entries 'freed 2 entries' "$B" token gc "$P"
token_and_region_have_help() {
	output_matches Usage "$B" token --help && output_matches Usage "$B" region --help
}
check help_on_token_and_region token_and_region_have_help

# ---- region write is all or nothing: the whole input, then one write.
# The old command wrote 64 KiB at a time: a token for the first 64 KiB let
# the first piece of a longer input through before the rest was refused.
"$B" create "$P-r" --size 32M --raw-size 256K >/dev/null 2>&1
W4K=$("$B" token derive "$P-r" --region 0:64K --rights rw 2>/dev/null)
printf hello | "$B" region write "$P-r" --token "$W4K" 0 >/dev/null 2>&1
write_past_the_token() { head -c 98304 /dev/zero | tr '\0' A | "$B" region write "$P-r" --token "$W4K" 0; }
expect_exit 3 write_past_the_token_s_range_is_refused write_past_the_token
check_output --equals refused_write_wrote_no_byte hello "$B" region read "$P-r" --token "$W4K" 0 5
write_past_the_raw_area() { head -c 524288 /dev/zero | "$B" region write "$P-r" 0; }
stderr_of() { "$@" 2>&1 >/dev/null; }
check_output --status 2 input_larger_than_the_raw_area_is_refused "larger than the raw area" \
	stderr_of write_past_the_raw_area
check_output --equals oversized_input_wrote_no_byte hello "$B" region read "$P-r" 0 5

# ---- token files go through shmemora_token_load: no FIFO, no junk.
mkfifo "$P.fifo"
check_output --status 2 token_fifo_is_refused_at_once "not a regular file" \
	stderr_of timeout 10 "$B" region read "$P-r" --token "@$P.fifo" 0 5
printf '%s junk\n' "$W4K" >"$P.junk"
check_output --status 2 token_file_with_junk_after_the_token_is_refused "malformed" \
	stderr_of "$B" region read "$P-r" --token "@$P.junk" 0 5
check_output --status 2 junk_after_the_token_inspected_is_refused "malformed" \
	stderr_of "$B" token inspect "$P-r" "@$P.junk"
check_output --status 2 derive_from_a_fifo_is_refused "not a regular file" \
	stderr_of timeout 10 "$B" token derive "$P-r" --from "@$P.fifo" --region 0:8 --rights r

# ---- list and inspect: namespace names, depth, quota, state.
"$B" ns create "$P-r" users >/dev/null 2>&1
NS=$("$B" token derive "$P-r" --namespace users --rights rg --quota 5 2>/dev/null)
KEY=$("$B" token derive "$P-r" --from "$NS" --key users/alice --rights r 2>/dev/null)
check_output -E inspect_shows_the_namespace_name_depth_and_quota \
	'live +namespace +rg +1 +1/5 .* ns users$' "$B" token inspect "$P-r" "$NS"
check_output -E list_shows_a_key_token_s_namespace_and_depth \
	'live +key +r +2 +0/0 .* a key of ns users$' "$B" token list "$P-r"
check_output list_json_has_name_depth_quota \
	'"ns_name": "users", "ns_deleted": false, "ns_incarnation": 1, .*"depth": 1, "quota": 5, "quota_used": 1 }' \
	"$B" token list "$P-r" --json
"$B" ns delete "$P-r" users >/dev/null 2>&1
check_output -E list_says_deleted_when_the_namespace_is_gone \
	'namespace +rg .* ns \(deleted\)$' "$B" token list "$P-r"
check_output list_json_says_deleted '"ns_name": null, "ns_deleted": true' \
	"$B" token list "$P-r" --json
