#!/usr/bin/env bash
# test_kv_cli.sh BUILD — the key-value commands: put, get, del, keys;
# binary-safe output.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/shmemora
P=/dev/shm/shmemora-kvcli-$$
trap 'rm -f "$P"*; tap_cleanup' EXIT
echo "1..25"
stderr_of() { "$@" 2>&1 >/dev/null; }

"$B" create "$P" --size 64M --max-key 256 >/dev/null 2>&1
expect_exit 0 ns_create "$B" ns create "$P" users
expect_exit 2 ns_create_twice_is_usage_error "$B" ns create "$P" users
expect_exit 0 put_a_value "$B" put "$P" users alice "Ada Lovelace"
check_output --equals get_returns_it "Ada Lovelace" "$B" get "$P" users alice
put_binary() { printf 'a\000b\377' | "$B" put "$P" users $'tab\there' -; }
check put_binary_value_from_stdin put_binary
get_binary_is_exact() { cmp <("$B" get "$P" users $'tab\there') <(printf 'a\000b\377'); }
check get_returns_binary_bytes_exactly get_binary_is_exact
expect_exit 0 put_an_empty_value "$B" put "$P" users empty ""
expect_exit 2 insert_of_a_present_key "$B" put "$P" users alice x --insert
expect_exit 1 update_of_an_absent_key "$B" put "$P" users nobody x --update
check_output --status 2 insert_and_update_together "exclude each other" \
	stderr_of "$B" put "$P" users k v --insert --update
big_value() { head -c $((2 << 20)) /dev/zero | "$B" put "$P" users big -; }
check_output --status 2 value_past_the_pool_s_max_is_refused "larger than this pool's max value" \
	stderr_of big_value
expect_exit 1 big_value_was_not_written "$B" get "$P" users big

# ---- keys: escaped, one a line; --values; --match; --count; --json.
keys_sorted() { "$B" keys "$P" users "$@" | sort; }
check_output --equals keys_lists_every_key_escaped $'alice\nempty\ntab\\x09here' keys_sorted
check_output --equals keys_values_escaped_after_a_tab $'alice\tAda\\x20Lovelace\nempty\t\ntab\\x09here\ta\\x00b\\xff' \
	keys_sorted --values
check_output --equals keys_match_globs_the_printed_key 'tab\x09here' "$B" keys "$P" users --match 'tab\x09*'
check_output --equals keys_match_fnmatch_classes $'alice' "$B" keys "$P" users --match '[a]*'
check_output --count 2 keys_count_stops_after_n '.' "$B" keys "$P" users --count 2
check_output keys_json_gives_utf8_keys_as_strings '{ "key": "alice", "version": [0-9]*, "value": "Ada Lovelace" }' \
	"$B" keys "$P" users --json --values
check_output keys_json_escapes_control_bytes '"key": "tab\\u0009here"' "$B" keys "$P" users --json
check_output keys_json_gives_other_bytes_in_base64 '"value_base64": "YQBi/w=="' \
	"$B" keys "$P" users --json --values
json_is_valid() { "$B" keys "$P" users --json --values | python3 -m json.tool >/dev/null; }
if command -v python3 >/dev/null; then
	check keys_json_parses json_is_valid
else
	tap_skip "keys_json_parses (needs python3)"
fi
check_output --equals keys_of_an_empty_json_namespace '[]' "$B" keys "$P" users --json --match 'zz*'
expect_exit 1 keys_of_a_missing_namespace "$B" keys "$P" nosuch
RO_OTHER=$("$B" token derive "$P" --key users/alice --rights r 2>/dev/null)
check_output --equals keys_with_a_key_token_lists_its_one_key alice \
	"$B" keys "$P" users --token "$RO_OTHER"
check_output keys_help_says_what_a_scan_guarantees "listed exactly once" "$B" keys --help
