#!/usr/bin/env bash
# test_bench.sh BUILD — build/kv runs to completion in its main forms
# (correctness only: no timing assertions).
set -u
. "$(dirname "$0")/tap.sh"
B=${1:-build}/kv
cd "$(dirname "$0")/../.." || exit 1
echo "1..12"
check seed_form_2_256_1_5_0_completes sh -c "'$B' 2 256 1 5 0 --records 2000 --ops 4000 | grep -q '^shmemora '"
check two_hosts_complete sh -c "'$B' 2 256 1 5 0 --records 2000 --ops 4000 --hosts 2 2>/dev/null | grep -q '^shmemora '"
check two_hosts_report_each_host sh -c "'$B' --hosts 2 --records 2000 --ops 4000 | grep -c '^  host [01] ' | grep -qx 2"
check every_workload_runs sh -c "for w in A B C D E F; do '$B' --workload \$w --records 2000 --ops 2000 --threads 2 >/dev/null || exit 1; done"
check trace_replay_runs sh -c "'$B' --trace workload/workloada 2>/dev/null | grep -q '^shmemora '"
check json_output sh -c "'$B' --records 1000 --ops 1000 --json | grep -q '\"run\": { \"ops\": 1000'"
check csv_output sh -c "'$B' --records 1000 --ops 1000 --csv | head -1 | grep -q '^store,pipeline'"
check unprotected_twin_runs sh -c "'${B}-unprotected' --records 1000 --ops 1000 | grep -q '^shmemora-unprotected '"
check compare_runs_only_the_chosen_peers sh -c "'$B' --compare --peers unprotected --records 1000 --ops 1000 --sweep-threads 1,2 | grep -c '^shmemora' | grep -qx 4"
expect_exit 2 unknown_peer_is_refused "$B" --compare --peers unprotected,mongodb
expect_exit 2 bad_arguments_are_refused "$B" 0 256 1 5 0
check help_describes_the_positional_form sh -c "'$B' --help | grep -q 'nthreads'"
