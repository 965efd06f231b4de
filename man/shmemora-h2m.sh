#!/bin/sh
# shmemora-h2m.sh SHMEMORA — prints the help2man include file for the
# shmemora(1) man page: a COMMANDS section holding each subcommand's own
# --help, taken from the command (so the page cannot drift from it), and the
# sections --help has no room for.  Used by the Makefile's man rule.
set -eu
prog=$1
# roff: a backslash is \e, and a line starting with . or ' would be a request.
roff() { sed -e 's/\\/\\e/g' -e "s/^[.']/\\\\\\&&/"; }
cat <<'HEAD'
[DESCRIPTION]
.\" The command's own --help follows help2man's DESCRIPTION paragraph.
shmemora administers SHMemora pools: protective key-value stores in memory
shared by several hosts over CXL (or a file that emulates one).  Every
access goes through the library's protected path with a capability token.
HEAD
echo '[COMMANDS]'
"$prog" --help | awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }' |
while read -r cmd; do
	echo ".SS \"$cmd\""
	echo '.nf'
	"$prog" "$cmd" --help | roff
	echo '.fi'
done
cat <<'TAIL'
[ENVIRONMENT]
.TP
.B SHMEMORA_KEY_FILE
The key file to use when no \-\-key\-file is given (default: the pool path
plus .key).
[FILES]
.TP
.I POOL.key
The pool's secret key (mode 0600, or 0640 for a pool shared with a group).
Without it the pool cannot be attached.
.TP
.I POOL.root-token
The root token: every right on the whole pool (mode 0600).  Commands use it
when no \-\-token is given.
[SEE ALSO]
.BR kv (1).
The library's manual is its header, shmemora.h; docs/api.md, docs/security.md,
docs/pool-format.md and docs/dump-format.md in the source tree.
TAIL
