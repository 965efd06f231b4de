#!/usr/bin/env bash
# test_exports.sh BUILD — only shmemora_* symbols leave the libraries.
set -u
. "$(dirname "$0")/tap.sh"
build=${1:-build}
echo "1..3"
check shared_library_exports_only_shmemora_symbols sh -c \
	"test -z \"\$(nm -D --defined-only '$build/libshmemora.so' | awk '{print \$3}' | grep -v '^shmemora_')\""
check static_library_exports_only_shmemora_symbols sh -c \
	"test -z \"\$(nm -g --defined-only '$build/libshmemora.a' | awk 'NF==3 {print \$3}' | grep -v '^shmemora_')\""
check shared_library_exports_the_api sh -c \
	"nm -D --defined-only '$build/libshmemora.so' | grep -q ' shmemora_attach\$'"
