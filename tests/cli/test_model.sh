#!/usr/bin/env bash
# test_model.sh BUILD — the Spin models of the protocols (scripts/verify.sh).
exec "$(dirname "$0")/../../scripts/verify.sh"
