# Sourced by the bench/*.sh wrappers after `cd` to the repository root: the
# release daemon (BUILD), the shared tools (TOOLS), a temporary root (tmp) and
# state dir (state) removed on exit, a local registry on 127.0.0.1:5000 filled
# by testimages.py when nothing listens there, and the containerd anchor.
BUILD=${CRIC_RELEASE_BUILD_DIR:-build}
[ -x "$BUILD/src/daemon/cric" ] || make build >/dev/null
TOOLS=$(cd .. && pwd)/shared/tools

tmp=$(mktemp -d /tmp/cric-bench.XXXXXX)
state=$(mktemp -d /run/cric-bench.XXXXXX)
cric_pid=
reg_pid=
bench_cleanup() {
    [ -n "$cric_pid" ] && kill "$cric_pid" 2>/dev/null && wait "$cric_pid" 2>/dev/null || true
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null || true
    rm -rf "$tmp"
    rm -rf "$state" 2>/dev/null || true
}
trap bench_cleanup EXIT

# The wrappers' arguments: --with-containerd sets WITH_CONTAINERD=1; the
# options matching $1 (an extended regex such as "--size|--count") take a
# value and are passed on in ARGS; anything else is a usage error.
bench_args() {
    local takes=$1
    shift
    ARGS=()
    WITH_CONTAINERD=0
    while [ $# -gt 0 ]; do
        if [ "$1" = --with-containerd ]; then
            WITH_CONTAINERD=1
        elif [[ "$1" =~ ^($takes)$ ]]; then
            ARGS+=("$1" "$2")
            shift
        else
            echo "unknown argument $1" >&2
            exit 2
        fi
        shift
    done
}

bench_registry() {
    (echo > /dev/tcp/127.0.0.1/5000) 2>/dev/null && return 0
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
}

# cric on $tmp/cric.sock, with no CNI network configured
bench_start_cric() {
    mkdir -p "$tmp/cni"
    echo "{\"cni\": {\"conf_dir\": \"$tmp/cni\"}}" > "$tmp/config.json"
    "$BUILD/src/daemon/cric" --config "$tmp/config.json" --listen "$tmp/cric.sock" \
        --root "$tmp/root" --state "$state" --log-level warn &
    cric_pid=$!
    for _ in $(seq 100); do [ -S "$tmp/cric.sock" ] && break; sleep 0.05; done
}

bench_stop_cric() {
    kill "$cric_pid"
    wait "$cric_pid" || true
    cric_pid=
}

# The running anchor's endpoint (another benchmark may be using it), or a new one.
bench_containerd_endpoint() {
    if [ -S /run/containerd-anchor/containerd.sock ] &&
        kill -0 "$(cat /run/containerd-anchor/pid 2>/dev/null || echo 0)" 2>/dev/null; then
        echo unix:///run/containerd-anchor/containerd.sock
    else
        "$TOOLS/containerd-anchor.sh" start
    fi
}
