#!/usr/bin/env bash
# test_consttime_quick.sh BUILD — the constant-time test of the tag and MAC
# comparisons (tests/stress/test_consttime.c), quick form: one million
# timings a comparison instead of ten million (about a second here).  A
# comparison passes at |t| < 4.5 and fails at |t| > 10 (in between it takes
# more timings, up to ten times as many); the early-exit control must still
# be flagged, so a machine too noisy to see a leak fails rather than passes.
# A real effect's t grows with the square root of the timings, so the quick
# form sees any early exit (a byte loop over a tag: |t| near 500) while a
# small bias of the machine's stays far below the threshold.  make stress
# runs the long form.
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
# A make of its own: under `make test` the parent's jobserver flags would
# reach it (as in run-tests.sh).  A sanitizer tree's BUILD implies its SAN.
if ! out=$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top" \
	BUILD="$build" "$build/stress/test_consttime" 2>&1); then
	echo "1..1"
	echo "not ok 1 - build_test_consttime"
	printf '%s\n' "$out" | sed 's/^/# /' | tail -30
	exit 1
fi
exec env CMOCKA_MESSAGE_OUTPUT=TAP SHMEMORA_CONSTTIME_MEASUREMENTS=1000000 \
	"$build/stress/test_consttime"
