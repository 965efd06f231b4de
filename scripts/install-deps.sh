#!/bin/sh
# install-deps.sh — installs what SHMemora needs to build and test, on Debian
# or Ubuntu, when it is missing.  Called by `make demo` and `make test`; safe
# to run again (it does nothing when everything is there).
set -eu

PACKAGES="gcc make pkg-config libssl-dev libxxhash-dev libcmocka-dev libnuma-dev"

missing=""
for pkg in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: this script knows apt-get only; install them by hand" >&2
	exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "install-deps: need root or sudo to install:$missing" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
