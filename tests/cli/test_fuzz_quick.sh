#!/usr/bin/env bash
# test_fuzz_quick.sh BUILD — a short libFuzzer run of each harness over its
# corpus (make fuzz-quick).  Skipped, by name, where clang's libFuzzer is
# not installed; the long form is `make fuzz`.
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
echo "1..3"
probe=$(mktemp -d)
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' >"$probe/p.c"
if ! clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
	rm -rf "$probe"
	for f in fuzz_token_text fuzz_pool_image fuzz_trace; do
		tap_skip "${f}_quick_run (no clang libFuzzer here)"
	done
	exit 0
fi
rm -rf "$probe"
make -C "$top" --no-print-directory -s build/fuzz/fuzz_token_text build/fuzz/fuzz_pool_image \
	build/fuzz/fuzz_trace >"$tap_out" 2>&1
for f in fuzz_token_text fuzz_pool_image fuzz_trace; do
	check "${f}_quick_run" make -C "$top" --no-print-directory -s fuzz-quick FUZZERS=$f
done
