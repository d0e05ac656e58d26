#!/bin/bash
# ListContainerStats p50/p99 with N running containers and exit -> STOPPED
# event latency (bench/stats.py) for cric (release build) and, with
# --with-containerd, side by side with Debian's containerd
# (../shared/tools/containerd-anchor.sh). Images come from a local registry on
# 127.0.0.1:5000 filled by ../shared/tools/testimages.py (started here when
# nothing listens there).
#
#   bench/stats.sh [--with-containerd] [--containers N] [--calls M] [--exits K]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_args "--containers|--calls|--exits" "$@"
IMAGE=localhost:5000/library/busybox:latest
bench_registry
bench_start_cric
c=$(bench/stats.py "unix://$tmp/cric.sock" --image "$IMAGE" --label cric "${ARGS[@]}")
echo "$c"
bench_stop_cric

if [ "$WITH_CONTAINERD" = 1 ]; then
    ep=$("$TOOLS/containerd-anchor.sh" start)
    d=$(bench/stats.py "$ep" --image "$IMAGE" --label containerd "${ARGS[@]}")
    echo "$d"
    /usr/bin/python3 - "$c" "$d" <<'PY'
import json, sys
c, d = (json.loads(x) for x in sys.argv[1:])
print("ratio cric/containerd: ListContainerStats p50 %.3f" % (
    c["list_stats_p50_ms"] / d["list_stats_p50_ms"]))
if "exit_event_p50_ms" in d:
    print("ratio cric/containerd: exit->STOPPED event p50 %.3f" % (
        c["exit_event_p50_ms"] / d["exit_event_p50_ms"]))
else:
    print("containerd: no event latency (%s)" % d.get("events_error", "?"))
PY
fi
