#!/bin/bash
# Pod+container start p50/p99, ExecSync(true) p50/p99 and ListContainers p50
# with many containers (bench/containers.py), for cric (release build) and,
# with --with-containerd, side by side with Debian's containerd
# (../shared/tools/containerd-anchor.sh). Images come from a local registry on
# 127.0.0.1:5000 filled by ../shared/tools/testimages.py (started here when
# nothing listens there); both runtimes pull the same busybox.
#
# Also the daemon's and the monitors' RSS with --rss-containers running pods
# (default 100) and the busy CPU time per 1000 exec probes (--probe-containers
# containers, default 20, each probed once a second for --probe-seconds,
# default 30, net of an idle phase as long); see bench/containers.py.
#
#   bench/containers.sh [--with-containerd] [--count N] [--exec-count N] [--list-count N]
#                       [--rss-containers N] [--probe-containers N] [--probe-seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_args "--count|--exec-count|--list-count|--rss-containers|--probe-containers|--probe-seconds" "$@"
IMAGE_PATH=e2e-test-images/busybox:1.29-2
bench_registry
bench_start_cric
c=$(/usr/bin/python3 bench/containers.py "unix://$tmp/cric.sock" --image "localhost:5000/$IMAGE_PATH" \
    --label cric --cpu-match "^$BUILD/src/daemon/cric " \
    --daemon-match "^$BUILD/src/daemon/cric " --monitor-match "cric-shim .*--state-dir $state/" \
    --grpc-load "$BUILD/bench/grpc_load" "${ARGS[@]}")
echo "$c"
bench_stop_cric

if [ "$WITH_CONTAINERD" = 1 ]; then
    ep=$(bench_containerd_endpoint)
    d=$(/usr/bin/python3 bench/containers.py "$ep" --image "registry.k8s.io/$IMAGE_PATH" \
        --label containerd --cpu-match "^containerd --config /etc/containerd-anchor|containerd-shim-runc-v2 .*containerd-anchor" \
        --daemon-match "^containerd --config /etc/containerd-anchor" \
        --monitor-match "containerd-shim-runc-v2 .*containerd-anchor" \
        --grpc-load "$BUILD/bench/grpc_load" "${ARGS[@]}")
    echo "$d"
    /usr/bin/python3 - "$c" "$d" <<'PY'
import json, sys
c, d = (json.loads(x) for x in sys.argv[1:])
r = lambda k: c[k] / d[k]
out = "ratios cric/containerd: start p50 %.3f, ExecSync p50 %.3f, CPU per ExecSync %.3f" % (
    r("start_p50_ms"), r("exec_p50_ms"), r("exec_cpu_ms_per_call"))
out += ", start p99 %.3f, ExecSync p99 %.3f" % (r("start_p99_ms"), r("exec_p99_ms"))
if "list_p50_ms" in c and "list_p50_ms" in d:
    out += ", ListContainers p50 %.3f (decoded by the client: %.3f)" % (
        r("list_p50_ms"), r("list_decoded_p50_ms"))
if "list_c_client_p50_ms" in c and "list_c_client_p50_ms" in d:
    out += ", ListContainers p50 through the C client %.3f" % r("list_c_client_p50_ms")
if "busy_cpu_s_per_1000_probes" in c and "busy_cpu_s_per_1000_probes" in d:
    out += ", busy CPU per 1000 probes %.3f" % r("busy_cpu_s_per_1000_probes")
    out += ", probe-process CPU per 1000 probes %.3f" % r("proc_cpu_s_per_1000_probes")
if "daemon_rss_mib" in c and "daemon_rss_mib" in d:
    out += ", daemon RSS %.3f, monitors RSS %.3f" % (r("daemon_rss_mib"), r("monitor_rss_mib"))
print(out)
PY
fi
