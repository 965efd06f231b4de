#!/usr/bin/env bash
# demo.sh BUILD — the main job on the embedded default: an emulated CXL pool
# under /dev/shm, several host processes attached to it, what each sees, a
# host that dies and whose slot is reclaimed, then clean-up.
set -eu
build=${1:-build}
S=$build/shmemora
HOST=$build/examples/attach
POOL=/dev/shm/shmemora-demo-$$
trap 'rm -f "$POOL" "$POOL.key" "$POOL.root-token"; kill $(jobs -p) 2>/dev/null || true' EXIT

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

step "capability tokens: the admin derives a read-write token for 4 KiB of the data area"
RW=$("$S" token derive "$POOL" --region 0:4K --rights rwg)
echo "$RW"
echo "hello from host A" | "$S" region write "$POOL" --token "$RW" 0
step "host A hands host B a read-only token derived from its own; B reads"
RO=$("$S" token derive "$POOL" --from "$RW" --region 0:1K --rights r)
"$S" region read "$POOL" --token "$RO" 0 18
step "B tries to write with its read-only token: refused, nothing changed"
echo "defaced" | "$S" region write "$POOL" --token "$RO" 0 || echo "(exit code $?)"
"$S" region read "$POOL" --token "$RW" 0 18
step "a mistyped token (one character changed) is told apart from a forged one"
if [ "${RO: -1}" = 0 ]; then TYPO=${RO%?}1; else TYPO=${RO%?}0; fi
"$S" region read "$POOL" --token "$TYPO" 0 4 || echo "(exit code $?)"
FORGED=$("$build/examples/forge_token" "$RO" 5)
echo "forged (tag bit flipped, text checksum valid): $FORGED"
"$S" region read "$POOL" --token "$FORGED" 0 4 || echo "(exit code $?)"
step "A revokes its token: B's derived token stops working at once"
"$S" token revoke "$POOL" "$RW"
"$S" region read "$POOL" --token "$RO" 0 18 || echo "(exit code $?)"
"$S" token list "$POOL"

step "the key-value store: the admin creates a namespace and gives host A a namespace token"
"$S" ns create "$POOL" usertable
A=$("$S" token derive "$POOL" --namespace usertable --rights rwidg)
step "host A (one process) writes with its namespace token"
"$S" put "$POOL" --token "$A" usertable user1 "Ada Lovelace"
"$S" put "$POOL" --token "$A" usertable user2 "Grace Hopper"
step "host A derives a read-only token and hands it to host B (another process), which reads"
B=$("$S" token derive "$POOL" --from "$A" --namespace usertable --rights r)
"$S" get "$POOL" --token "$B" usertable user1; echo
step "host B cannot write with it"
"$S" put "$POOL" --token "$B" usertable user1 "defaced" || echo "(exit code $?)"
step "host C has no token for this namespace: only one for a raw region; refused"
C=$("$S" token derive "$POOL" --region 0:64 --rights r)
"$S" get "$POOL" --token "$C" usertable user1 || echo "(exit code $?)"
step "host A revokes B's token: B's next read is refused"
"$S" token revoke "$POOL" "$B"
"$S" get "$POOL" --token "$B" usertable user1 || echo "(exit code $?)"
"$S" stats "$POOL"

step "a short run: 100 000 keys of 256 bytes, protected vs the unprotected build of the same code"
"$build/kv" --mode micro --records 100000 --ops 200000 --duration 1 --compare

step "all hosts detached; destroy the pool and its key file"
"$S" destroy "$POOL"
