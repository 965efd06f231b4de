#!/usr/bin/env bash
# test_bench.sh BUILD — build/kv runs to completion in its main forms, and
# each of its outputs says what it should (correctness only: no timing
# assertions).  Tests that read JSON or CSV need python3, the chart tests
# gnuplot; without them they are skipped by name.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/kv
cd "$(dirname "$0")/../.." || exit 1
# A scratch area of our own on tmpfs: pools, charts, and what is left behind.
T=$(mktemp -d /dev/shm/test-bench.XXXXXX) || exit 1
trap 'rm -rf "$T"; tap_cleanup' EXIT
SMALL="--records 1000 --ops 1000"

have() { command -v "$1" >/dev/null 2>&1; }
# needs TOOL NAME COMMAND...: check, or skip when TOOL is not installed.
needs() {
	local tool=$1 name=$2; shift 2
	if have "$tool"; then check "$name" "$@"; else tap_skip "$name (no $tool)"; fi
}
# A fresh empty directory under $T.
fresh() { rm -rf "$T/$1" && mkdir -p "$T/$1" && echo "$T/$1"; }
# wait_for GLOB [TEST]: waits up to 10 s for a file matching GLOB that
# passes `test TEST` (default -e; -s: sized, as a pool is once created);
# prints the first.
wait_for() {
	local f
	for _ in $(seq 100); do
		for f in $1; do test "${2:--e}" "$f" && { echo "$f"; return 0; }; done
		sleep 0.1
	done
	return 1
}
export -f wait_for
# This machine's CPU as the benchmark names it.
CPU=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: //')
CPU=${CPU:-unknown CPU}

echo "1..42"

# --- the forms it runs in
check seed_form_2_256_1_5_0_completes bash -o pipefail -c "'$B' 2 256 1 5 0 --records 2000 --ops 4000 | grep -q '^shmemora '"
check two_hosts_complete bash -o pipefail -c "'$B' 2 256 1 5 0 --records 2000 --ops 4000 --hosts 2 2>/dev/null | grep -q '^shmemora '"
check two_hosts_report_each_host bash -o pipefail -c "'$B' --hosts 2 --records 2000 --ops 4000 | grep -c '^  host [01] ' | grep -qx 2"
check every_workload_runs bash -o pipefail -c "for w in A B C D E F; do '$B' --workload \$w --records 2000 --ops 2000 --threads 2 >/dev/null || exit 1; done"
check trace_replay_runs bash -o pipefail -c "'$B' --trace workload/workloada 2>/dev/null | grep -q '^shmemora '"
check json_output bash -o pipefail -c "'$B' $SMALL --json | grep -q '\"run\": { \"ops\": 1000'"
check csv_output bash -o pipefail -c "'$B' $SMALL --csv | head -1 | grep -q '^store,pipeline'"
check unprotected_twin_runs bash -o pipefail -c "'${B}-unprotected' $SMALL | grep -q '^shmemora-unprotected '"
check compare_runs_only_the_chosen_peers bash -o pipefail -c "'$B' --compare --peers unprotected $SMALL --sweep-threads 1,2 | grep -c '^shmemora' | grep -qx 4"
expect_exit 2 unknown_peer_is_refused "$B" --compare --peers unprotected,mongodb
# Flush mode beside coherent, in one run (docs/coherence.md's figures).
check compare_runs_flush_mode_beside_coherent bash -o pipefail -c "'$B' --compare --peers flush $SMALL --sweep-threads 1,2 | grep -cE '^shmemora(-flush)? ' | grep -qx 4"
check coherence_flush_runs_alone bash -o pipefail -c "'$B' --coherence flush $SMALL | grep -q 'pool in flush coherence mode' && [ \$('$B' $SMALL | grep -c 'flush coherence') = 0 ]"
expect_exit 2 unknown_coherence_is_refused "$B" --coherence sometimes $SMALL
expect_exit 2 bad_arguments_are_refused "$B" 0 256 1 5 0
expect_exit 2 a_number_with_junk_is_refused "$B" --records 10x
check help_describes_the_positional_form bash -o pipefail -c "'$B' --help | grep -q 'nthreads'"
check help_lists_every_option bash -o pipefail -c "for o in mode workload records ops distribution threads value-size use-batch batch-kvs verify coherence hosts store pipeline batch compare peers trace duration size dir repeat json csv plot sweep-threads timing; do '$B' --help | grep -q -- \"--\$o\" || { echo missing --\$o; exit 1; }; done"
check micro_mode_compares_both_builds bash -o pipefail -c "'$B' --mode micro --compare $SMALL --duration 0.2 | grep -cE '^shmemora(-unprotected)? (get|put|mix)-' | grep -qx 8"
# The twin gets its arguments as an argv array: a quote and a space in one
# of them reach it intact (a shell string broke on them).
D=$(fresh "quote a'b\"c")
check twin_gets_arguments_with_quotes_intact bash -o pipefail -c "'$B' --compare --peers unprotected $SMALL --dir \"\$1\" | grep -c '^shmemora' | grep -qx 2" - "$D"

# --- what the header says
check trace_header_counts_the_trace bash -o pipefail -c "'$B' --trace workload/workloada 2>/dev/null | head -1 | grep -q '200 records, 500 operations'"
check positional_use_mac_0_says_mac_is_off bash -o pipefail -c "'$B' 1 256 1 5 0 $SMALL | grep -q 'MAC checking off (use_mac=0)'"
check header_names_the_machine bash -o pipefail -c "'$B' $SMALL | grep -qF \"\$1\"" - "$CPU"

# --- JSON and CSV
needs python3 csv_has_a_threads_column bash -o pipefail -c "'$B' $SMALL --threads 2 --csv | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
assert rows and rows[0][\"threads\"] == \"2\", rows'"
# An error that carries a path with a quote, a backslash, a tab and a
# comma, from a --dir that does not exist: JSON and CSV must carry it
# exactly.
BAD="$T/no\"such\\dir	tab,comma"
# The run fails (exit 5, its reason in the output); a crash would not be 5.
needs python3 json_escapes_quotes_backslashes_and_control_bytes bash -c "out=\$('$B' $SMALL --dir \"\$1\" --json); [ \$? -eq 5 ] && printf '%s' \"\$out\" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
assert sys.argv[1] in rows[0][\"error\"], rows[0][\"error\"]' \"\$1\"" - "$BAD"
needs python3 csv_quotes_an_error_with_quotes_and_commas bash -c "out=\$('$B' $SMALL --dir \"\$1\" --csv); [ \$? -eq 5 ] && printf '%s' \"\$out\" | python3 -c '
import csv, sys
rows = list(csv.DictReader(sys.stdin))
assert len(rows) == 1 and sys.argv[1] in rows[0][\"error\"], rows' \"\$1\"" - "$BAD"
needs python3 repeat_reports_median_and_spread_in_json bash -o pipefail -c "'$B' --records 1000 --ops 2000 --repeat 3 --json | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
run = r[\"run\"]
assert r[\"repeats\"] == 3, r
assert 0 < run[\"mops_min\"] <= run[\"mops\"] <= run[\"mops_max\"], run'"
needs python3 repeat_reports_median_and_spread_in_csv bash -o pipefail -c "'$B' --records 1000 --ops 2000 --repeat 3 --csv | python3 -c '
import csv, sys
r = list(csv.DictReader(sys.stdin))[0]
assert r[\"repeats\"] == \"3\", r
assert 0 < float(r[\"run_mops_min\"]) <= float(r[\"run_mops\"]) <= float(r[\"run_mops_max\"]), r'"
check repeat_reports_the_spread_in_the_table bash -o pipefail -c "'$B' --records 1000 --ops 2000 --repeat 3 | grep -q 'run min-max' && '$B' --records 1000 --ops 2000 --repeat 3 | grep -qE '^shmemora +1 +[0-9.]+ +[0-9.]+ +[0-9.]+-[0-9.]+ '"

# --- batched reads (--batch)
# Workload C is all reads: 1600 of them in batches of 16 are 100 requests,
# for every store, the twin included, and Redis and memcached run once
# (their batching replaces their pipelined rows).
needs python3 batch_reads_go_in_requests_of_n_for_every_store bash -o pipefail -c "'$B' --compare --workload C --records 1000 --ops 1600 --batch 16 --json | python3 -c '
import json, sys
rows = json.load(sys.stdin)
stores = [r[\"store\"] for r in rows]
assert stores == [\"shmemora\", \"shmemora-unprotected\", \"lmdb\", \"redis\", \"memcached\"], stores
for r in rows:
    assert not r[\"error\"] and r[\"batch\"] == 16, r[\"store\"]
    assert r[\"run\"][\"ops\"] == 1600 and r[\"run\"][\"requests\"] == 100, (r[\"store\"], r[\"run\"])'"
# SHMemora's protected path is entered once per multi_get: 1000 batches
# and the (unbatched) warm-up of at most 1600 reads, against 16000 calls
# one key at a time.
check batch_is_one_protected_call_per_batch bash -o pipefail -c "
	n() { '$B' --workload C --records 1000 --ops 16000 --timing \"\$@\" | sed -n 's/.*(\\([0-9]*\\) timed.*/\\1/p'; }
	one=\$(n); batched=\$(n --batch 16); echo \"one by one \$one, batched \$batched\"
	[ \"\$one\" -ge 16000 ] && [ \"\$batched\" -le 2600 ]"
# Workload A is half updates, which stay one request each.
needs python3 batch_leaves_writes_one_at_a_time bash -o pipefail -c "'$B' --workload A --records 1000 --ops 16000 --batch 16 --json | python3 -c '
import json, sys
run = json.load(sys.stdin)[0][\"run\"]
assert 0.45 * 16000 < run[\"requests\"] < 0.55 * 16000 + 500, run'"
expect_exit 2 batch_with_pipeline_is_refused "$B" --batch 16 --pipeline 16

# --- the pool's size
# --ops beyond what --duration lets run must not size the pool: 50 M
# operations asked for a 36 GB pool; 1000 records need a few MiB.
D=$(fresh sized)
check pool_is_sized_for_records_not_ops bash -c "'$B' --records 1000 --ops 50000000 --duration 1 --dir '$D' >/dev/null & p=\$(wait_for '$D/shmemora-kv-*/pool' -s) && s=\$(stat -c %s \"\$p\") && wait && echo \"pool: \$s bytes\" && [ \"\$s\" -gt 0 ] && [ \"\$s\" -lt \$((256 << 20)) ]"
D=$(fresh size)
check size_sets_the_pool_size bash -c "'$B' --size 96M --records 1000 --ops 100000000 --duration 1 --dir '$D' >/dev/null & p=\$(wait_for '$D/shmemora-kv-*/pool' -s) && s=\$(stat -c %s \"\$p\") && wait && echo \"pool: \$s bytes\" && [ \"\$s\" -eq \$((96 << 20)) ]"
# Too small: refused with a size that fits, and that size then works.
check size_too_small_is_refused_with_one_that_fits bash -o pipefail -c "
	out=\$('$B' --size 40M --records 100000 --ops 1000); rc=\$?; echo \"\$out\"
	[ \$rc -eq 5 ] && echo \"\$out\" | grep -q 'cannot hold' || exit 1
	fit=\$(echo \"\$out\" | sed -n 's/.*use --size \\([0-9]*M\\) or more.*/\\1/p')
	[ -n \"\$fit\" ] && '$B' --size \"\$fit\" --records 100000 --ops 1000 >/dev/null"

# --- nothing left behind
D=$(fresh failed)
check a_failed_run_leaves_nothing_in_its_dir bash -o pipefail -c "'$B' --size 40M --records 100000 --dir '$D'; [ \$? -eq 5 ] && ls -A '$D' && [ -z \"\$(ls -A '$D')\" ]"
D=$(fresh noserver)
check a_peer_that_cannot_start_leaves_nothing bash -o pipefail -c "PATH=/nonexistent '$B' --store redis $SMALL --dir '$D'; [ \$? -eq 5 ] && [ -z \"\$(ls -A '$D')\" ]"
D=$(fresh signal)
check a_signal_removes_the_pool_and_exits_by_it bash -c "'$B' --records 1000 --ops 100000000 --duration 30 --dir '$D' & pid=\$!; wait_for '$D/shmemora-kv-*/pool' >/dev/null || exit 1; sleep 0.3; kill -TERM \$pid; wait \$pid; rc=\$?; ls -A '$D'; [ \$rc -eq 143 ] && [ -z \"\$(ls -A '$D')\" ]"
D=$(fresh signal-redis)
check a_signal_stops_the_peer_server bash -c "'$B' --store redis --records 100 --ops 100000000 --duration 30 --dir '$D' & pid=\$!; wait_for '$D/shmemora-kv-*/redis.sock' >/dev/null || exit 1; sleep 0.3; kill -TERM \$pid; wait \$pid; sleep 0.5; pgrep -af -- '[r]edis-server.*$D' && exit 1; [ -z \"\$(ls -A '$D')\" ]"

# --- charts
D=$(fresh plot)
needs gnuplot plot_writes_charts_and_keeps_gnuplot_quiet bash -o pipefail -c "'$B' --compare --peers unprotected,lmdb $SMALL --plot '$D' 2>'$T/plot.err' >/dev/null || exit 1; cat '$T/plot.err'; [ ! -s '$T/plot.err' ] && [ ! -s '$D/gnuplot.log' ] && for f in throughput latency_cdf; do head -c 4 '$D/'\$f.png | grep -q PNG || exit 1; done"
needs gnuplot plot_groups_bars_per_store_from_zero bash -o pipefail -c "grep -c '^\"\\(shmemora\\|shmemora-unprotected\\|lmdb\\)\" [0-9]' '$D/throughput.dat' | grep -qx 3 && grep -q 'set yrange \\[0:\\*\\]' '$D/plot.gp' && grep -q 'using 2:xtic(1)' '$D/plot.gp'"
needs gnuplot plot_titles_say_workload_records_threads_and_machine bash -o pipefail -c "grep '^set title' '$D/plot.gp' | grep -F 'YCSB A (zipfian), 1000 records, 1000 operations, 256-byte values, 1 thread' | grep -qF \"\$1\"" - "$CPU"
