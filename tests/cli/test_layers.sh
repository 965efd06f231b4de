#!/usr/bin/env bash
# test_layers.sh BUILD — the include graph of src/ follows docs/architecture.md:
# taken module by module (foo.c with its foo.h), it has no cycle, and every
# module includes only modules of lower layers.  The layer table is read from
# the document, so the document is the rule.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
cd "$(dirname "$0")/../.." || exit 1
echo "1..4"

# "module layer" lines from the table "| N | a b c |".
layers=$(sed -n 's/^| \([0-9]\+\) | \([a-z_ ]*\) |$/\1 \2/p' docs/architecture.md |
	 awk '{for (i = 2; i <= NF; i++) print $i, $1}')
# "from to" edges: every #include "x.h" of src/, module to module.
edges=$(for f in src/*.c src/*.h; do
	m=$(basename "$f"); m=${m%.*}
	sed -n 's/^#include "\([a-z_]*\)\.h".*/\1/p' "$f" | while read -r to; do
		[ "$to" != "$m" ] && [ "$to" != shmemora ] && echo "$m $to"
	done
done | sort -u)

modules=$(for f in src/*.c src/*.h; do m=$(basename "$f"); echo "${m%.*}"; done | sort -u)
check every_module_has_a_layer bash -c '
	missing=0
	for m in $1; do grep -q "^$m " <<<"$2" || { echo "no layer for $m in docs/architecture.md"; missing=1; }; done
	exit $missing' - "$modules" "$layers"
check the_table_names_no_module_that_is_not_there bash -c '
	extra=0
	while read -r m _; do grep -qx "$m" <<<"$1" || { echo "docs/architecture.md names $m, which src/ lacks"; extra=1; }; done <<<"$2"
	exit $extra' - "$modules" "$layers"
check the_include_graph_has_no_cycle bash -c 'tsort <<<"$1" >/dev/null' - "$edges"
check every_include_goes_to_a_lower_layer bash -c '
	bad=0
	while read -r from to; do
		lf=$(awk -v m="$from" "\$1 == m {print \$2}" <<<"$2")
		lt=$(awk -v m="$to" "\$1 == m {print \$2}" <<<"$2")
		[ -n "$lf" ] && [ -n "$lt" ] || continue
		[ "$lt" -lt "$lf" ] || { echo "$from (layer $lf) includes $to (layer $lt)"; bad=1; }
	done <<<"$1"
	exit $bad' - "$edges" "$layers"
