#!/usr/bin/env bash
# test_python.sh BUILD — the Python binding's pytest suite (python/tests)
# against BUILD/libshmemora.so: each pytest test is one TAP line, by name
# (python/tests/junit_tap.py).  Skipped, by name, where no python3 with
# pytest is found (make test installs python3-pytest through
# scripts/install-deps.sh; SHMEMORA_PYTHON names another interpreter), and
# on a sanitizer build (its library needs the sanitizer's runtime
# preloaded into Python).
set -u -o pipefail
. "$(dirname "$0")/tap.sh"
build=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
skip_all() { echo "1..1"; tap_skip "python_binding ($1)"; exit 0; }
case $build in
*address*|*thread*) skip_all "sanitizer build: its library needs the sanitizer runtime" ;;
esac
if [ ! -f "$build/libshmemora.so" ]; then
	echo "1..1"
	echo "$build/libshmemora.so does not exist: make lib" >"$tap_out"
	tap_not_ok python_binding_library_built
	exit 0
fi
python=
for candidate in ${SHMEMORA_PYTHON:-} python3 /usr/bin/python3; do
	command -v "$candidate" >/dev/null 2>&1 || continue
	if "$candidate" -c 'import pytest' >/dev/null 2>&1; then
		python=$candidate
		break
	fi
done
[ -n "$python" ] || skip_all "no python3 with pytest here: apt-get install python3-pytest"
build_abs=$(cd "$build" && pwd)
junit=$(mktemp) log=$(mktemp)
trap 'rm -f "$junit" "$log"; tap_cleanup' EXIT
# timeout: a hung test (a scan that never ends) fails instead of stalling make test
SHMEMORA_LIBRARY="$build_abs/libshmemora.so" SHMEMORA_BUILD="$build_abs" \
	PYTHONDONTWRITEBYTECODE=1 timeout 900 "$python" -m pytest -p no:cacheprovider -q -rs \
	--junitxml="$junit" "$top/python/tests" >"$log" 2>&1 </dev/null
status=$?
"$python" "$top/python/tests/junit_tap.py" "$junit" "$status" "$log"
