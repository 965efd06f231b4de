#!/usr/bin/env bash
# test_prometheus.sh BUILD — `shmemora stats --prometheus` is well-formed
# Prometheus text exposition (checked line by line by a small parser here),
# names its metrics shmemora_*, and escapes label values.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
B=${1:-build}/shmemora
P=/dev/shm/shmemora-prom-$$
trap 'rm -f "$P"*; tap_cleanup' EXIT
echo "1..12"

# well_formed FILE: every line is "# HELP name text", "# TYPE name type", a
# comment, or a sample "name{label="value",...} number"; each family has
# one HELP and one TYPE, both before its first sample, and its samples
# together; metric names start with shmemora_.
well_formed() {
	local line n=0 name labels value rest family= type
	local -A helped=() typed=() done_family=()
	local re_name='[a-zA-Z_:][a-zA-Z0-9_:]*'
	local re_label='[a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\["\\n])*"'
	local re_sample="^($re_name)(\\{($re_label(,$re_label)*)?\\})? (.*)$"
	local re_number='^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$|^[-+]?Inf$|^NaN$'
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		if [[ $line =~ ^#\ (HELP|TYPE)\ ($re_name)\ (.*)$ ]]; then
			name=${BASH_REMATCH[2]} rest=${BASH_REMATCH[3]}
			if [ "${BASH_REMATCH[1]}" = HELP ]; then
				[ -z "${helped[$name]:-}" ] || { echo "line $n: second HELP for $name"; return 1; }
				helped[$name]=1
			else
				[ -z "${typed[$name]:-}" ] || { echo "line $n: second TYPE for $name"; return 1; }
				[[ $rest =~ ^(counter|gauge|histogram|summary|untyped)$ ]] ||
					{ echo "line $n: bad type '$rest'"; return 1; }
				typed[$name]=$rest
			fi
			[ -z "${done_family[$name]:-}" ] || { echo "line $n: $name described after its samples"; return 1; }
		elif [[ $line =~ ^# ]]; then
			:
		elif [[ $line =~ $re_sample ]]; then
			name=${BASH_REMATCH[1]} value=${BASH_REMATCH[${#BASH_REMATCH[@]} - 1]}
			[[ $name == shmemora_* ]] || { echo "line $n: $name is not shmemora_*"; return 1; }
			[ -n "${typed[$name]:-}" ] && [ -n "${helped[$name]:-}" ] ||
				{ echo "line $n: sample of $name before its HELP and TYPE"; return 1; }
			[[ $value =~ $re_number ]] || { echo "line $n: value '$value' is no number"; return 1; }
			if [ "$name" != "$family" ]; then
				[ -z "${done_family[$name]:-}" ] || { echo "line $n: samples of $name apart"; return 1; }
				[ -n "$family" ] && done_family[$family]=1
				family=$name
			fi
		else
			echo "line $n is neither a comment nor a sample: $line"; return 1
		fi
	done <"$1"
	[ "$n" -gt 0 ] || { echo "no output"; return 1; }
}

# The parser itself refuses what is not well-formed.
bad_inputs_fail() {
	local f=$P.bad
	printf '# HELP shmemora_x a\n# TYPE shmemora_x gauge\nshmemora_x{a="b} 1\n' >"$f"
	well_formed "$f" >/dev/null && { echo "an unclosed label passed"; return 1; }
	printf 'shmemora_x 1\n' >"$f"
	well_formed "$f" >/dev/null && { echo "a sample without TYPE passed"; return 1; }
	printf '# HELP x a\n# TYPE x gauge\nx 1\n' >"$f"
	well_formed "$f" >/dev/null && { echo "a name without shmemora_ passed"; return 1; }
	printf '# HELP shmemora_x a\n# TYPE shmemora_x gauge\nshmemora_x one\n' >"$f"
	well_formed "$f" >/dev/null && { echo "a value that is no number passed"; return 1; }
	return 0
}
check the_parser_refuses_bad_exposition bad_inputs_fail

"$B" create "$P" --size 64M >/dev/null 2>&1
"$B" ns create "$P" usertable >/dev/null 2>&1
"$B" ns create "$P" 'odd"name\x' >/dev/null 2>&1
"$B" put "$P" usertable user1 "Ada Lovelace" >/dev/null 2>&1
"$B" put "$P" usertable user2 "Grace Hopper" >/dev/null 2>&1
"$B" ns limit "$P" usertable --keys 100 >/dev/null 2>&1
"$B" stats "$P" --prometheus >"$P.prom"
status=$?
check stats_prometheus_exits_0 test "$status" -eq 0
check stats_prometheus_is_well_formed well_formed "$P.prom"
check_output --equals keys_gauge 'shmemora_keys 2' grep '^shmemora_keys ' "$P.prom"
check_output --equals per_namespace_keys 'shmemora_namespace_keys{namespace="usertable"} 2' \
	grep 'shmemora_namespace_keys{namespace="usertable"}' "$P.prom"
check_output --equals per_namespace_limit 'shmemora_namespace_max_keys{namespace="usertable"} 100' \
	grep 'shmemora_namespace_max_keys{namespace="usertable"}' "$P.prom"
check_output -E per_host_and_size_class_labels '^shmemora_allocated_entries\{host="0",size_class_bytes="[0-9]+"\} [0-9]+$' \
	cat "$P.prom"
check_output --equals label_values_are_escaped 'shmemora_namespace_keys{namespace="odd\"name\\x"} 0' \
	grep 'odd' "$P.prom" -m1
check_output --count 1 tokens_by_state 'shmemora_tokens{state="live"} 1' cat "$P.prom"
# Without a token: the pool-wide figures, and a comment saying why no more.
mv "$P.root-token" "$P.rt"
"$B" stats "$P" --prometheus >"$P.prom2"
check stats_prometheus_without_a_token_is_well_formed well_formed "$P.prom2"
check_output no_token_no_namespace_figures_and_says_why '^# shmemora: no per-namespace figures' \
	cat "$P.prom2"
mv "$P.rt" "$P.root-token"
expect_exit 2 json_and_prometheus_exclude_each_other "$B" stats "$P" --json --prometheus
