#!/usr/bin/env bash
# alloc-count.sh MESSAGES COMMAND [ARGS...]
# Counts heap allocations (malloc, calloc, realloc in glibc) made while
# COMMAND runs, per message, by the code that called the allocator: the
# first stack frame outside glibc (library and function). Use it to check
# which allocations per message are ours and which are Paho's, e.g.
#   BENCH_INBOX_MODES=1 bench/alloc-count.sh 5000 \
#       bench/with-broker.sh bench-inbox build/rel 5000 1
# Needs perf with uprobes (root, or perf_event_paranoid <= 1 and tracefs
# access). Set-up and tear-down allocations are counted too: use enough
# messages that they vanish in the per-message figure. A measurement tool:
# nothing here is part of the product or of the tests.
set -euo pipefail
messages=${1:?usage: alloc-count.sh MESSAGES COMMAND [ARGS...]}
shift
libc=$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ {print $NF; exit}')
[[ -n $libc ]] || libc=/lib/x86_64-linux-gnu/libc.so.6
for f in malloc calloc realloc; do
    perf probe -q -x "$libc" --add "$f" 2>/dev/null || true
done
data=$(mktemp /tmp/alloc-count.XXXXXX)
trap 'rm -f "$data"' EXIT
# 256 bytes of stack are enough to unwind from the allocator to its caller
PERF="perf record -q -m 1024 -o $data -e probe_libc:malloc -e probe_libc:calloc -e probe_libc:realloc --call-graph dwarf,256" \
    "$@" >/dev/null
perf script -i "$data" 2>/dev/null | python3 -c '
import collections, re, sys
n = int(sys.argv[1])
count, frames = collections.Counter(), []
def flush():
    for addr, sym, dso in frames:
        if "libc.so" in dso or dso == "inlined":
            continue
        count[(dso.rsplit("/", 1)[-1], re.sub(r"\+0x[0-9a-f]+$", "", sym))] += 1
        return
for line in sys.stdin:
    if not line.strip():
        flush()
        frames = []
        continue
    m = re.match(r"\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$", line)
    if m:
        frames.append(m.groups())
flush()
total = sum(count.values())
print(f"{total / n:9.2f}  allocations per message in all (over {n} messages)")
for (dso, sym), c in count.most_common(15):
    print(f"{c / n:9.2f}  {dso:30s} {sym}")
' "$messages"
