#!/usr/bin/env bash
# test_bench.sh BUILD — build/kv runs to completion in its main forms
# (correctness only: no timing assertions).
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/kv
cd "$(dirname "$0")/../.." || exit 1
echo "1..12"
every_workload() {
	local w
	for w in A B C D E F; do
		"$B" --workload "$w" --records 2000 --ops 2000 --threads 2 >/dev/null || return 1
	done
}
check_output seed_form_2_256_1_5_0_completes '^shmemora ' "$B" 2 256 1 5 0 --records 2000 --ops 4000
check_output two_hosts_complete '^shmemora ' "$B" 2 256 1 5 0 --records 2000 --ops 4000 --hosts 2
check_output --count 2 two_hosts_report_each_host '^  host [01] ' "$B" --hosts 2 --records 2000 --ops 4000
check every_workload_runs every_workload
check_output trace_replay_runs '^shmemora ' "$B" --trace workload/workloada
check_output json_output '"run": { "ops": 1000' "$B" --records 1000 --ops 1000 --json
check_output --line 1 csv_output '^store,pipeline' "$B" --records 1000 --ops 1000 --csv
check_output unprotected_twin_runs '^shmemora-unprotected ' "${B}-unprotected" --records 1000 --ops 1000
check_output --count 4 compare_runs_only_the_chosen_peers '^shmemora' \
	"$B" --compare --peers unprotected --records 1000 --ops 1000 --sweep-threads 1,2
expect_exit 2 unknown_peer_is_refused "$B" --compare --peers unprotected,mongodb
expect_exit 2 bad_arguments_are_refused "$B" 0 256 1 5 0
check_output help_describes_the_positional_form 'nthreads' "$B" --help
