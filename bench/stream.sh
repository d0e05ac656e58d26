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
ARGS=()
WITH_CONTAINERD=0
while [ $# -gt 0 ]; do
    case "$1" in
    --with-containerd) WITH_CONTAINERD=1 ;;
    --size|--count) ARGS+=("$1" "$2"); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
BUILD=${CRIC_RELEASE_BUILD_DIR:-build}
[ -x "$BUILD/src/daemon/cric" ] || make build >/dev/null
TOOLS=$(cd .. && pwd)/shared/tools
IMAGE_PATH=e2e-test-images/busybox:1.29-2

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
c=$(/usr/bin/python3 bench/stream.py "unix://$tmp/cric.sock" --image "localhost:5000/$IMAGE_PATH" \
    --label cric "${ARGS[@]}")
echo "$c"
kill "$cric_pid"; wait "$cric_pid" || true; cric_pid=

if [ "$WITH_CONTAINERD" = 1 ]; then
    if [ -S /run/containerd-anchor/containerd.sock ] &&
        kill -0 "$(cat /run/containerd-anchor/pid 2>/dev/null || echo 0)" 2>/dev/null; then
        ep=unix:///run/containerd-anchor/containerd.sock
    else
        ep=$("$TOOLS/containerd-anchor.sh" start)
    fi
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
