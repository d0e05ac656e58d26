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
. bench/lib.sh
nat_before=$(iptables-save -t nat | awk '/^:/ {print substr($1, 2)}' | sort)
cleanup() {
    bench_cleanup
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
bench_start_cric

c_cni=$(bench/sandbox.py "unix://$tmp/cric.sock" --count "$COUNT" --label cric)
echo "$c_cni"
c_host=$(bench/sandbox.py "unix://$tmp/cric.sock" --count "$COUNT" --label cric --host-network)
echo "$c_host"
bench_stop_cric

if [ "$WITH_CONTAINERD" = 1 ]; then
    bench_registry
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
