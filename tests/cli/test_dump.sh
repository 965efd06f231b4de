#!/usr/bin/env bash
# test_dump.sh BUILD — `shmemora dump` and `shmemora load`: binary-safe round
# trips, and dumps that are truncated, damaged, of another kind or version,
# or past the pool's limits, all refused before a key is written.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/shmemora
top=$(cd "$(dirname "$0")/../.." && pwd)
P=/dev/shm/shmemora-dump-$$
trap 'rm -f "$P"*; tap_cleanup' EXIT
echo "1..32"
stderr_of() { "$@" 2>&1 >/dev/null; }
# poke FILE OFFSET BYTE: writes one byte (printf's \ooo or \xHH) at OFFSET.
poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
# keys_values POOL NS: every key and value, escaped, sorted.
keys_values() { "$B" keys "$1" "$2" --values | sort; }

"$B" create "$P" --size 64M --max-key 256 >/dev/null 2>&1
"$B" create "$P-b" --size 64M --max-key 256 >/dev/null 2>&1
"$B" ns create "$P" src >/dev/null 2>&1
largest_key=$(head -c 256 /dev/zero | tr '\0' K)
fill() {
	printf 'a\000b\377c' | "$B" put "$P" src 'nul\x00and\xff' - --escaped &&
	printf '\000\377' | "$B" put "$P" src plain - &&
	"$B" put "$P" src empty "" &&
	"$B" put "$P" src "$largest_key" big-key &&
	"$B" put "$P" src '\xff\x00\x00' 'v\x00' --escaped &&
	head -c 100000 /dev/urandom | "$B" put "$P" src random -
}
check fill_a_namespace_with_binary_keys_and_values fill
expect_exit 0 dump_a_namespace sh -c "'$B' dump '$P' src > '$P.dump'"
check_output --equals dump_and_load_write_nothing_on_stderr_off_a_terminal '' \
	sh -c "'$B' dump '$P' src 2>&1 >/dev/null; '$B' load '$P-b' quiet < '$P.dump' 2>&1 >/dev/null"
check_output --equals load_says_how_many_keys 'loaded 6 keys into namespace dst' \
	sh -c "'$B' load '$P-b' dst < '$P.dump'"
same_keys_and_values() { cmp <(keys_values "$P" src) <(keys_values "$P-b" dst); }
check round_trip_keeps_every_key_and_value same_keys_and_values
check_output --count 6 round_trip_has_six_keys '.' "$B" keys "$P-b" dst
same_random() { cmp <("$B" get "$P" src random) <("$B" get "$P-b" dst random); }
check round_trip_keeps_a_large_random_value_byte_for_byte same_random
same_nul() { cmp <("$B" get "$P" src 'nul\x00and\xff' --escaped) <(printf 'a\000b\377c'); }
check round_trip_keeps_nul_and_ff_in_keys_and_values same_nul
check_output --equals round_trip_keeps_an_empty_value '' "$B" get "$P-b" dst empty
check_output --equals round_trip_keeps_the_largest_key big-key "$B" get "$P-b" dst "$largest_key"
check_output --equals dump_starts_with_the_documented_magic '89 53 48 4d 44 55 4d 50' \
	sh -c "head -c 8 '$P.dump' | od -An -tx1 | sed 's/^ //'"
magic_documented() { grep -q '89 53 48 4d 44 55 4d 50' "$top/docs/dump-format.md"; }
check magic_is_the_one_docs_dump_format_md_gives magic_documented
expect_exit 0 load_into_an_existing_namespace_replaces sh -c "'$B' load '$P-b' dst < '$P.dump'"

# ---- bad dumps: refused whole, nothing loaded.
size=$(stat -c %s "$P.dump")
head -c $((size - 7)) "$P.dump" >"$P.cut"
check_output --status 4 truncated_dump_is_refused "nothing loaded" \
	stderr_of sh -c "'$B' load '$P-b' cut < '$P.cut'"
head -c 300 "$P.dump" >"$P.cut2"
check_output --status 4 dump_cut_inside_a_record_is_refused "truncated" \
	stderr_of sh -c "'$B' load '$P-b' cut < '$P.cut2'"
expect_exit 1 refused_loads_created_nothing "$B" ns stat "$P-b" cut
cp "$P.dump" "$P.flip"
poke "$P.flip" $((size / 2)) '\x5a'
flipped_changed_a_byte() { ! cmp -s "$P.dump" "$P.flip"; }
check flipped_dump_differs_from_the_dump flipped_changed_a_byte
check_output --status 4 flipped_byte_is_refused "fails its check" \
	stderr_of sh -c "'$B' load '$P-b' flip < '$P.flip'"
expect_exit 1 flipped_dump_loaded_nothing "$B" ns stat "$P-b" flip
cp "$P.dump" "$P.magic"; poke "$P.magic" 1 'X'
check_output --status 2 wrong_magic_is_not_a_dump "not a SHMemora dump" \
	stderr_of sh -c "'$B' load '$P-b' magic < '$P.magic'"
cp "$P.dump" "$P.v2"; poke "$P.v2" 8 '\x02'
check_output --status 2 dump_of_another_version_is_refused "dump format version 2" \
	stderr_of sh -c "'$B' load '$P-b' v2 < '$P.v2'"
{ cat "$P.dump"; printf extra; } >"$P.tail"
check_output --status 4 bytes_after_the_trailer_are_refused "follow the trailer" \
	stderr_of sh -c "'$B' load '$P-b' tail < '$P.tail'"
"$B" create "$P-s" --size 64M --max-key 64 >/dev/null 2>&1
check_output --status 2 key_past_the_pool_s_max_key_is_refused "larger --max-key" \
	stderr_of sh -c "'$B' load '$P-s' small < '$P.dump'"
check_output --equals limits_refusal_loaded_nothing '[]' "$B" ns list "$P-s" --json
expect_exit 2 load_of_nothing_is_refused sh -c "'$B' load '$P-b' empty < /dev/null"

# ---- --partial: the records before the first damage.
"$B" ns create "$P" five >/dev/null 2>&1
for k in k1 k2 k3 k4 k5; do "$B" put "$P" five "$k" vvvv >/dev/null 2>&1; done
"$B" dump "$P" five >"$P.five"
# header 20 + 4 ("five"), records of 16 + 2 + 4 + 8 bytes: record 3's value
poke "$P.five" $((24 + 2 * 30 + 16 + 2 + 1)) 'X'
check_output --status 4 partial_loads_up_to_the_damage "loaded the 2 records before the damage" \
	stderr_of sh -c "'$B' load '$P-b' part --partial < '$P.five'"
check_output --count 2 partial_loaded_two_keys '.' "$B" keys "$P-b" part
check_output --status 2 partial_still_refuses_another_version "nothing loaded" \
	stderr_of sh -c "'$B' load '$P-b' part2 --partial < '$P.v2'"

# ---- a write that fails stops the load and says how far it got.
"$B" ns create "$P-b" limited >/dev/null 2>&1
"$B" ns limit "$P-b" limited --keys 2 >/dev/null 2>&1
check_output --status 3 load_past_a_quota_says_how_many_loaded "2 of 6 keys loaded" \
	stderr_of sh -c "'$B' load '$P-b' limited < '$P.dump'"

# ---- terminals and missing namespaces.
if command -v script >/dev/null; then
	check_output --status 2 dump_to_a_terminal_is_refused "standard output is a terminal" \
		timeout 10 script -qec "$B dump $P src" /dev/null
else
	tap_skip "dump_to_a_terminal_is_refused (needs script(1))"
fi
check_output --status 1 dump_of_a_missing_namespace_is_not_found "does not exist" \
	stderr_of sh -c "'$B' dump '$P' nosuch > '$P.none'"
check_output --equals dump_of_a_missing_namespace_writes_nothing '0' stat -c %s "$P.none"
