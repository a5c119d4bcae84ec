#!/bin/bash
# Test template (tests/integration/etcd_test.cpp): a member script that fails on member 2.
set -euo pipefail
NAME="{{ name }}"
case "$NAME" in
  *-etcd-2) echo "simulated bootstrap failure on $NAME" >&2; exit 3 ;;
esac
echo "member $NAME pretends to be ready"
