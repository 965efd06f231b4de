#!/usr/bin/env bash
# test_kv_cli.sh BUILD — the key-value commands: put, get, del, keys, ns
# list|create|delete|stat|limit; binary-safe output; put on a terminal; and
# the read-only commands working while every host slot is held.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/shmemora
ATTACH=${1:-build}/examples/attach
P=/dev/shm/shmemora-kvcli-$$
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -f "$P"*; tap_cleanup' EXIT
echo "1..43"
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

# ---- put with no value on a terminal refuses with a hint, at once.
if command -v script >/dev/null; then
	check_output --status 2 put_on_a_terminal_without_value_refuses "standard input is a terminal" \
		timeout 10 script -qec "$B put $P users k" /dev/null
	expect_exit 1 nothing_was_put_from_the_terminal "$B" get "$P" users k
else
	tap_skip "put_on_a_terminal_without_value_refuses (needs script(1))"
	tap_skip "nothing_was_put_from_the_terminal (needs script(1))"
fi

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

# ---- ns list, stat, limit, delete.
check_output -E ns_list_shows_name_keys_limits_incarnation '^users +3 +[0-9]+ bytes +- +- +1$' \
	"$B" ns list "$P"
check_output ns_list_json '"name": "users", "keys": 3, "bytes": [0-9]*, "max_keys": 0, "max_bytes": 0, "incarnation": 1' \
	"$B" ns list "$P" --json
check_output ns_limit_keys_and_bytes 'at most 4 keys, 1 MiB' "$B" ns limit "$P" users --keys 4 --bytes 1M
check_output ns_limit_keeps_the_limit_not_given 'at most 5 keys, 1 MiB' "$B" ns limit "$P" users --keys 5
check_output -E ns_stat_shows_the_limits '^users +3 +[0-9]+ bytes +5 +1 MiB +1$' "$B" ns stat "$P" users
"$B" put "$P" users k4 x >/dev/null 2>&1
"$B" put "$P" users k5 x >/dev/null 2>&1
check_output --status 3 put_past_the_key_limit_is_over_quota "limit of 5 keys" stderr_of "$B" put "$P" users k6 x
check_output ns_limit_zero_removes_it 'at most - keys, 1 MiB' "$B" ns limit "$P" users --keys 0
expect_exit 2 ns_limit_needs_a_limit "$B" ns limit "$P" users
expect_exit 2 ns_limit_bad_bytes "$B" ns limit "$P" users --bytes 12Q
expect_exit 1 ns_stat_of_a_missing_namespace "$B" ns stat "$P" nosuch
check_output --equals ns_delete_says_how_many_keys 'deleted namespace users: 5 keys removed' \
	"$B" ns delete "$P" users
expect_exit 1 deleted_namespace_is_gone "$B" get "$P" users alice
expect_exit 2 ns_without_subcommand_is_usage_error "$B" ns frob "$P"

# ---- read-only commands attach as observers: they work while every host
# slot is held (a pool of one slot, held by another process).
"$B" create "$P-1" --size 32M --hosts 1 >/dev/null 2>&1
"$B" ns create "$P-1" t >/dev/null 2>&1
"$B" put "$P-1" t k v >/dev/null 2>&1
"$ATTACH" "$P-1" 30 >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
	"$B" hosts "$P-1" --json 2>/dev/null | grep -q '"attached"' && break
	sleep 0.1
done
expect_exit 3 a_write_finds_no_free_slot "$B" put "$P-1" t k2 v
read_only_commands_work() {
	"$B" keys "$P-1" t >/dev/null || return 1
	"$B" ns list "$P-1" >/dev/null || return 1
	"$B" ns stat "$P-1" t >/dev/null || return 1
	"$B" dump "$P-1" t >/dev/null || return 1
	"$B" get "$P-1" t k >/dev/null || return 1
	"$B" stats "$P-1" --prometheus >/dev/null || return 1
	"$B" token list "$P-1" >/dev/null || return 1
	"$B" check "$P-1" >/dev/null
}
check keys_ns_list_ns_stat_dump_get_stats_while_every_slot_is_held read_only_commands_work
check_output --equals keys_while_every_slot_is_held k "$B" keys "$P-1" t
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=
