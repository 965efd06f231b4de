#!/usr/bin/env bash
# test_api_doc.sh BUILD — docs/api.md documents every function the shared
# library exports, under a heading of its own, with at least the errors the
# header's comment on that function names; its error-code table is the
# header's enum, code by code and value by value.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
H=$top/include/shmemora.h
D=$top/docs/api.md
echo "1..6"

exported() { nm -D --defined-only "$build/libshmemora.so" | awk '$2 == "T" && $3 ~ /^shmemora_/ { print $3 }' | sort -u; }
documented() { sed -nE 's/^### `(shmemora_[a-z0-9_]+)`.*/\1/p' "$D" | sort -u; }

# header_errors: "NAME CODE CODE ..." a line, the E_ codes named in the
# comment right above each SHMEMORA_API declaration (a blank line ends a
# comment's reach; declarations grouped under one comment share it).
header_errors() {
	awk '
	function codes(s,   out, m) {
		out = ""
		while (match(s, /E_[A-Z_]+/)) {
			out = out " " substr(s, RSTART, RLENGTH)
			s = substr(s, RSTART + RLENGTH)
		}
		return out
	}
	incom { com = com "\n" $0; if ($0 ~ /\*\//) { incom = 0; pending = com } next }
	/^[ \t]*\/\*/ { com = $0; if (substr($0, index($0, "/*") + 2) ~ /\*\//) pending = com; else incom = 1; next }
	/^[ \t]*$/ { pending = ""; next }
	/SHMEMORA_API/ && match($0, /shmemora_[a-z0-9_]+[ \t]*\(/) {
		name = substr($0, RSTART, RLENGTH); sub(/[ \t]*\($/, "", name)
		print name codes(pending)
	}' "$H"
}
# doc_errors NAME: the E_ codes in docs/api.md's section for NAME.
doc_section() {
	awk -v h="### \`$1\`" '$0 == h { f = 1; next } f && /^##/ { exit } f' "$D"
}

every_export_has_a_heading() {
	local missing
	missing=$(comm -23 <(exported) <(documented))
	[ "$(exported | wc -l)" -gt 50 ] || { echo "nm found too few exports"; return 1; }
	[ -z "$missing" ] && return 0
	echo "exported but without a heading in docs/api.md:"; echo "$missing"; return 1
}
check every_exported_function_has_a_heading every_export_has_a_heading

no_heading_for_a_missing_function() {
	local stale
	stale=$(comm -13 <(exported) <(documented))
	[ -z "$stale" ] && return 0
	echo "headings for functions the library does not export:"; echo "$stale"; return 1
}
check every_heading_names_an_exported_function no_heading_for_a_missing_function

errors_as_in_the_header() {
	local name code codes section bad=0 n=0
	while read -r name codes; do
		n=$((n + 1))
		section=$(doc_section "$name")
		[ -n "$section" ] || { echo "$name: no section"; bad=1; continue; }
		grep -q '^Errors: ' <<<"$section" || { echo "$name: no 'Errors:' line"; bad=1; }
		for code in $codes; do
			grep -qE "\\b$code\\b" <<<"$section" ||
				{ echo "$name: the header names $code, docs/api.md does not"; bad=1; }
		done
	done < <(header_errors)
	[ "$n" -gt 50 ] || { echo "read only $n declarations from the header"; return 1; }
	return $bad
}
check each_function_lists_the_errors_its_header_comment_names errors_as_in_the_header

token_errors_where_a_token_is_taken() {
	local name bad=0 section n=0
	for name in $(tr '\n' ' ' <"$H" | grep -oE 'SHMEMORA_API [^;]*shmemora_pool \*pool, const shmemora_token \*(token|parent)[^;]*;' |
			grep -oE 'shmemora_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u); do
		n=$((n + 1))
		section=$(doc_section "$name")
		grep -qE 'the token errors|^Errors: as `shmemora_' <<<"$section" ||
			{ echo "$name takes a token, but its errors do not include the token errors"; bad=1; }
	done
	[ "$n" -ge 15 ] || { echo "found only $n calls taking a token in the header"; return 1; }
	return $bad
}
check calls_taking_a_token_list_the_token_errors token_errors_where_a_token_is_taken

# "CODE VALUE" a line, from the header's enum and from the doc's table.
enum_codes() { sed -nE 's/^\s*(SHMEMORA_E_[A-Z_]+) = (-[0-9]+),.*/\1 \2/p' "$H"; }
table_codes() { sed -nE 's/^\| `(SHMEMORA_E_[A-Z_]+)` \| (-[0-9]+) \|.*/\1 \2/p' "$D"; }
code_table_is_the_enum() {
	[ "$(enum_codes | wc -l)" -gt 30 ] || { echo "read too few codes from the header"; return 1; }
	diff <(enum_codes) <(table_codes) && return 0
	echo "(< the header's enum, > docs/api.md's table)"; return 1
}
check error_code_table_is_the_header_s_enum code_table_is_the_enum

codes_in_the_doc_exist() {
	local code bad=0
	for code in $(grep -oE '\bE_[A-Z_]+' "$D" | sort -u); do
		enum_codes | grep -q "^SHMEMORA_$code " || { echo "docs/api.md names $code: no such code"; bad=1; }
	done
	return $bad
}
check every_code_the_doc_names_exists codes_in_the_doc_exist
