#!/usr/bin/env bash
# test_flush_model.sh BUILD — flush mode under the cache model, quick form:
# builds the cache model tree beside BUILD (BUILD-model, make build-model's
# tree for BUILD=build), runs test_flush, test_backend and test_check there,
# then removes each write-back and invalidate call site of src/ in turn and
# requires those tests to fail for every one (scripts/check-flush.sh; make
# check-flush runs the long form).
set -u -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
model=${build%/}-model
# A make of its own: under `make test` the parent's jobserver flags would
# reach it (as in run-tests.sh).
mkdir -p "$model"
log=$model/make.log
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory -C "$top" \
	MODEL=1 BUILD="$model" lib tools tests model-tests >"$log" 2>&1; then
	echo "1..1"
	echo "not ok 1 - build_the_cache_model_tree (see $log)"
	sed 's/^/# /' "$log" | tail -30
	exit 1
fi
exec "$top/scripts/check-flush.sh" quick "$model"
