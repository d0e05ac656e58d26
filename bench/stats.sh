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
ARGS=()
WITH_CONTAINERD=0
while [ $# -gt 0 ]; do
    case "$1" in
    --with-containerd) WITH_CONTAINERD=1 ;;
    --containers|--calls|--exits) ARGS+=("$1" "$2"); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
BUILD=${CRIC_RELEASE_BUILD_DIR:-build}
[ -x "$BUILD/src/daemon/cric" ] || make build >/dev/null
TOOLS=$(cd .. && pwd)/shared/tools
IMAGE=localhost:5000/library/busybox:latest

tmp=$(mktemp -d /tmp/cric-bench.XXXXXX)
state=$(mktemp -d /run/cric-bench.XXXXXX)
cric_pid=
reg_pid=
cleanup() {
    [ -n "$cric_pid" ] && kill "$cric_pid" 2>/dev/null && wait "$cric_pid" 2>/dev/null || true
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null || true
    rm -rf "$tmp"
    rm -rf "$state" 2>/dev/null || true
}
trap cleanup EXIT

if ! (echo > /dev/tcp/127.0.0.1/5000) 2>/dev/null; then
    mkdir -p "$tmp/registry"
    cat > "$tmp/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $tmp/registry}}
http: {addr: 127.0.0.1:5000}
YML
    docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
    reg_pid=$!
    for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/5000) 2>/dev/null && break; sleep 0.1; done
    /usr/bin/python3 "$TOOLS/testimages.py" 127.0.0.1:5000 >/dev/null
fi

mkdir -p "$tmp/cni"
echo "{\"cni\": {\"conf_dir\": \"$tmp/cni\"}}" > "$tmp/config.json"
"$BUILD/src/daemon/cric" --config "$tmp/config.json" --listen "$tmp/cric.sock" --root "$tmp/root" \
    --state "$state" --log-level warn &
cric_pid=$!
for _ in $(seq 100); do [ -S "$tmp/cric.sock" ] && break; sleep 0.05; done
c=$(bench/stats.py "unix://$tmp/cric.sock" --image "$IMAGE" --label cric "${ARGS[@]}")
echo "$c"
kill "$cric_pid"; wait "$cric_pid" || true; cric_pid=

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
