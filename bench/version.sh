#!/bin/bash
# Version round-trip latency (p50/p99) for 1 and 16 concurrent clients, the
# rate with 16 clients, and cric's idle RSS; side by side with containerd's CRI
# when --with-containerd is given (Debian's containerd via
# ../shared/tools/containerd-anchor.sh).
#
#   bench/version.sh [--with-containerd] [--seconds N]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=5
WITH_CONTAINERD=0
while [ $# -gt 0 ]; do
    case "$1" in
    --with-containerd) WITH_CONTAINERD=1 ;;
    --seconds) SECONDS_PER_RUN=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
BUILD=${CRIC_RELEASE_BUILD_DIR:-build}
[ -x "$BUILD/src/daemon/cric" ] || make build >/dev/null
LOAD=$BUILD/bench/grpc_load
VERSION_REQ=0a05302e312e30 # VersionRequest{version:"0.1.0"}

tmp=$(mktemp -d /tmp/cric-bench.XXXXXX)
trap 'kill $cric_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
echo '{}' > "$tmp/config.json"
"$BUILD/src/daemon/cric" --config "$tmp/config.json" --listen "$tmp/cric.sock" --root "$tmp/root" \
    --state "$tmp/state" --log-level warn &
cric_pid=$!
for _ in $(seq 100); do [ -S "$tmp/cric.sock" ] && break; sleep 0.05; done
sleep 0.5
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$cric_pid/status)

measure() { # socket clients
    "$LOAD" "$1" /runtime.v1.RuntimeService/Version "$2" "$SECONDS_PER_RUN" "$VERSION_REQ"
}
field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])['$2'])" "$1"; }

c1=$(measure "$tmp/cric.sock" 1)
c16=$(measure "$tmp/cric.sock" 16)
rss_after=$(awk '/VmRSS/ {print $2}' /proc/$cric_pid/status)
echo "cric idle RSS: ${rss_idle} KiB (after load: ${rss_after} KiB)"
echo "cric  1 client : $c1"
echo "cric 16 clients: $c16"

if [ "$WITH_CONTAINERD" = 1 ]; then
    SHARED=../shared; [ -d "$SHARED" ] || SHARED=/work/shared
    "$SHARED/tools/containerd-anchor.sh" start >/dev/null
    sock=/run/containerd-anchor/containerd.sock
    for _ in $(seq 100); do [ -S $sock ] && break; sleep 0.1; done
    cpid=$(cat /run/containerd-anchor/pid)
    sleep 2
    crss=$(awk '/VmRSS/ {print $2}' /proc/$cpid/status)
    d1=$(measure $sock 1)
    d16=$(measure $sock 16)
    echo "containerd idle RSS: ${crss} KiB"
    echo "containerd  1 client : $d1"
    echo "containerd 16 clients: $d16"
    /usr/bin/python3 - "$c1" "$c16" "$d1" "$d16" "$rss_idle" "$crss" <<'PY'
import json, sys
c1, c16, d1, d16 = (json.loads(x) for x in sys.argv[1:5])
r, cr = int(sys.argv[5]), int(sys.argv[6])
print("ratios (cric / containerd): p50 1 client %.2f, p50 16 clients %.2f, p99 16 clients %.2f, "
      "rate 16 clients %.2fx, idle RSS %.2f" % (
          c1["p50_us"] / d1["p50_us"], c16["p50_us"] / d16["p50_us"],
          c16["p99_us"] / d16["p99_us"], c16["rate"] / d16["rate"], r / cr))
PY
fi
