#!/bin/sh
# Script of the SSH fan-out workload (bench/run): write 5 small files, hash 10 MB of random
# data, clean up, say done. POSIX sh so every tool runs the same text.
d=$(mktemp -d /tmp/kengine-bench-fanout.XXXXXX) || exit 1
for i in 1 2 3 4 5; do echo "file $i of $(hostname)" >"$d/f$i"; done
head -c 10485760 /dev/urandom | sha256sum >"$d/sum"
rm -rf "$d"
echo "done"
