#!/usr/bin/env bash
# demo.sh BUILD — the main job on the embedded default: an emulated CXL pool
# under /dev/shm, several host processes attached to it, what each sees, a
# host that dies and whose slot is reclaimed, then clean-up.
set -eu
build=${1:-build}
S=$build/shmemora
HOST=$build/examples/attach
POOL=/dev/shm/shmemora-demo-$$
trap 'rm -f "$POOL" "$POOL.key"; kill $(jobs -p) 2>/dev/null || true' EXIT

step() { printf '\n== %s\n' "$*"; }

step "create an emulated pool of 256 MiB with 4 host slots"
"$S" create "$POOL" --size 256M --hosts 4

step "what the pool looks like"
"$S" info "$POOL"

step "three hosts (separate processes) attach and report what they see"
"$HOST" "$POOL" 4 & h1=$!
sleep 0.2
"$HOST" "$POOL" 4 & h2=$!
sleep 0.2
"$HOST" "$POOL" 4 & h3=$!
sleep 0.5
"$S" hosts "$POOL"

step "host pid $h2 is killed (SIGKILL): its slot shows as dead"
kill -9 "$h2"
wait "$h2" 2>/dev/null || true
"$S" hosts "$POOL"

step "a new host attaches and reclaims the dead host's slot (its epoch is bumped)"
"$HOST" "$POOL" 1
"$S" hosts "$POOL" --all

wait "$h1" "$h3"
step "all hosts detached; destroy the pool and its key file"
"$S" destroy "$POOL"
