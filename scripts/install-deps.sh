#!/bin/sh
# install-deps.sh — installs what SHMemora needs to build and test, on Debian
# or Ubuntu, when it is missing.  Called by `make demo` and `make test`; safe
# to run again (it does nothing when everything is there).
set -eu

PACKAGES="gcc make pkg-config libssl-dev libxxhash-dev libcmocka-dev libnuma-dev"
# Hardened mode's system-call filter (libseccomp).
PACKAGES="$PACKAGES libseccomp-dev"
# help2man writes the man pages from --help (make man, make install).
PACKAGES="$PACKAGES help2man"
# The benchmark's peers (build/kv --compare): LMDB, Redis, memcached, their
# C clients.
PACKAGES="$PACKAGES liblmdb-dev libhiredis-dev libmemcached-dev redis-server memcached"
# For the fuzzers (clang's libFuzzer) and the model checker (Spin).  Tried
# one by one: where one is not to be had, its tests say "skipped" by name.
OPTIONAL="clang libclang-rt-dev spin gnuplot-nox"
# man(1), to check that the man pages render (tests/cli/test_man.sh).
OPTIONAL="$OPTIONAL man-db"
# For the Python binding's tests (tests/cli/test_python.sh: pytest, pip for
# its offline install test, mypy for its type hints).  Optional too: skipped
# by name without them.
OPTIONAL="$OPTIONAL python3 python3-pytest python3-pip python3-mypy"

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing="" optional=""
for pkg in $PACKAGES; do
	installed "$pkg" || missing="$missing $pkg"
done
for pkg in $OPTIONAL; do
	installed "$pkg" || optional="$optional $pkg"
done
# The VM tests (tests/cli/test_vm.sh): QEMU, busybox, the kernel package.
# Optional too: where they cannot be had, those tests are skipped by name.
vm_deps() {
	here=$(dirname "$0")
	"$here/vm-deps.sh" build >/dev/null 2>&1 ||
		echo "install-deps: QEMU or the kernel package not available; the VM tests will be skipped"
}
[ -z "$missing$optional" ] && { vm_deps; exit 0; }

if ! command -v apt-get >/dev/null 2>&1; then
	[ -z "$missing" ] && exit 0
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: this script knows apt-get only; install them by hand" >&2
	exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	[ -z "$missing" ] && exit 0
	echo "install-deps: need root or sudo to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi
for pkg in $optional; do
	$SUDO apt-get install -y -q --no-install-recommends "$pkg" >/dev/null 2>&1 ||
		echo "install-deps: optional package $pkg not available; its tests will be skipped"
done
vm_deps
