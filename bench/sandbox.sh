#!/bin/bash
# RunPodSandbox and Stop+Remove latency (p50/p99), CNI bridge network and host
# network, for cric (release build) and, with --with-containerd, side by side
# with Debian's containerd (../shared/tools/containerd-anchor.sh; its pause
# image comes from a local registry on 127.0.0.1:5000 filled by
# ../shared/tools/testimages.py, started here when nothing listens there).
#
#   bench/sandbox.sh [--with-containerd] [--count N]
#
# cric's network: bridge cric-b0 on 10.231.0.0/16 (+ portmap), removed at the
# end together with the nat chains portmap created. State lives on /run (tmpfs)
# as in production; the database under a temporary root on disk.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=30
WITH_CONTAINERD=0
while [ $# -gt 0 ]; do
    case "$1" in
    --with-containerd) WITH_CONTAINERD=1 ;;
    --count) COUNT=$2; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
BUILD=${CRIC_RELEASE_BUILD_DIR:-build}
[ -x "$BUILD/src/daemon/cric" ] || make build >/dev/null
TOOLS=$(cd .. && pwd)/shared/tools

tmp=$(mktemp -d /tmp/cric-bench.XXXXXX)
state=$(mktemp -d /run/cric-bench.XXXXXX)
cric_pid=
reg_pid=
nat_before=$(iptables-save -t nat | awk '/^:/ {print substr($1, 2)}' | sort)
cleanup() {
    [ -n "$cric_pid" ] && kill "$cric_pid" 2>/dev/null && wait "$cric_pid" 2>/dev/null || true
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null || true
    ip link del cric-b0 2>/dev/null || true
    # nat chains that portmap created during the run (not containerd's, which keeps running)
    if [ "$WITH_CONTAINERD" = 0 ]; then
        nat_after=$(iptables-save -t nat | awk '/^:/ {print substr($1, 2)}' | sort)
        for c in $(comm -13 <(echo "$nat_before") <(echo "$nat_after")); do
            iptables-save -t nat | grep -- "-j $c\$" | grep -v "^-A $c " | sed 's/^-A/-D/' |
                while read -r rule; do eval iptables -t nat "$rule" || true; done
            iptables -t nat -F "$c" || true
            iptables -t nat -X "$c" || true
        done
    fi
    rm -rf "$tmp"
    rmdir "$state/sandboxes" "$state" 2>/dev/null || true
}
trap cleanup EXIT
mkdir -p "$tmp/cni"
cat > "$tmp/cni/10-bench.conflist" <<JSON
{"cniVersion": "1.0.0", "name": "cric-bench", "plugins": [
  {"type": "bridge", "bridge": "cric-b0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$tmp/ipam", "routes": [{"dst": "0.0.0.0/0"}],
            "ranges": [[{"subnet": "10.231.0.0/16"}]]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
JSON
echo "{\"cni\": {\"conf_dir\": \"$tmp/cni\"}}" > "$tmp/config.json"
"$BUILD/src/daemon/cric" --config "$tmp/config.json" --listen "$tmp/cric.sock" --root "$tmp/root" \
    --state "$state" --log-level warn &
cric_pid=$!
for _ in $(seq 100); do [ -S "$tmp/cric.sock" ] && break; sleep 0.05; done

c_cni=$(bench/sandbox.py "unix://$tmp/cric.sock" --count "$COUNT" --label cric)
echo "$c_cni"
c_host=$(bench/sandbox.py "unix://$tmp/cric.sock" --count "$COUNT" --label cric --host-network)
echo "$c_host"
kill "$cric_pid"; wait "$cric_pid" || true; cric_pid=

if [ "$WITH_CONTAINERD" = 1 ]; then
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
    ep=$("$TOOLS/containerd-anchor.sh" start)
    d_cni=$(bench/sandbox.py "$ep" --count "$COUNT" --label containerd)
    echo "$d_cni"
    d_host=$(bench/sandbox.py "$ep" --count "$COUNT" --label containerd --host-network)
    echo "$d_host"
    /usr/bin/python3 - "$c_cni" "$d_cni" "$c_host" "$d_host" <<'PY'
import json, sys
c, d, ch, dh = (json.loads(x) for x in sys.argv[1:])
print("ratios cric/containerd: RunPodSandbox p50 %.3f (cni) %.3f (host); Stop+Remove p50 %.3f (cni) %.3f (host)" % (
    c["run_p50_ms"] / d["run_p50_ms"], ch["run_p50_ms"] / dh["run_p50_ms"],
    c["stop_remove_p50_ms"] / d["stop_remove_p50_ms"], ch["stop_remove_p50_ms"] / dh["stop_remove_p50_ms"]))
PY
fi
