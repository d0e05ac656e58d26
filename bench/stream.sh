#!/bin/bash
# Streaming: port-forward throughput each way and the exec round trip
# (bench/stream.py), for cric (release build) and, with --with-containerd,
# side by side with Debian's containerd (../shared/tools/containerd-anchor.sh)
# in one run. Images come from a local registry on 127.0.0.1:5000 filled by
# ../shared/tools/testimages.py (started here when nothing listens there).
#
#   bench/stream.sh [--with-containerd] [--size MB] [--count N]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_args "--size|--count" "$@"
IMAGE_PATH=e2e-test-images/busybox:1.29-2
bench_registry
bench_start_cric
c=$(/usr/bin/python3 bench/stream.py "unix://$tmp/cric.sock" --image "localhost:5000/$IMAGE_PATH" \
    --label cric "${ARGS[@]}")
echo "$c"
bench_stop_cric

if [ "$WITH_CONTAINERD" = 1 ]; then
    ep=$(bench_containerd_endpoint)
    d=$(/usr/bin/python3 bench/stream.py "$ep" --image "registry.k8s.io/$IMAGE_PATH" \
        --label containerd "${ARGS[@]}")
    echo "$d"
    /usr/bin/python3 - "$c" "$d" <<'PY'
import json, sys
c, d = (json.loads(x) for x in sys.argv[1:])
parts = []
for k, what in (("pf_up_MBps", "port-forward up"), ("pf_down_MBps", "port-forward down"),
                ("exec_rtt_p50_ms", "exec round trip p50"), ("exec_rtt_p99_ms", "exec round trip p99")):
    if k in c and k in d:
        parts.append("%s %.3f" % (what, c[k] / d[k]))
print("ratios cric/containerd: " + ", ".join(parts))
PY
fi
