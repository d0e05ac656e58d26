"""Crash consistency: a mixed workload (pulls and image removals, pod and
container create/start/stop/remove, ExecSync) from several clients; the daemon
is killed with SIGKILL at a random moment, restarted, and checked against what
the clients were told:

- every pod and container a client was told exists is listed, with the state
  it was last given (running containers still run; containers that exited
  while the daemon was down report their real exit codes);
- an object whose RPC was in flight at the kill is either complete (listed,
  usable) or fully gone; nothing else is listed;
- what is on the host matches what is listed: sandbox and container dirs,
  database rows, mounts, cgroups, veths, IP leases and shims;
- the daemon then serves the next round; at the end a remove-all leaves no
  mount, netns, veth, cgroup, lease, shim, row or stray file.

CRIC_REL_ROUNDS sets the number of kill rounds (5 quick, 50 full)."""
import os
import random
import sqlite3
import threading
import time
import uuid

import grpc

import leaks
from relutil import env_int, figures, install_net
from registry import Layer, busybox_layer_cached
from workload import Client, ctr_config, pod_config

THREADS = 4
MAX_PODS_PER_THREAD = 3
MAX_CTRS_PER_POD = 3


class Killed(Exception):
    pass


class Worker:
    """One client thread. It owns its pods and containers, so its model of them
    is exact except for the one RPC in flight when the daemon was killed."""

    def __init__(self, n, h):
        self.n, self.h = n, h
        self.pods = {}   # sid -> {"name", "cfg", "ready", "net", "cg"}
        self.ctrs = {}   # cid -> {"pod", "name", "kind", "code", "state"}
        self.inflight = None
        self.errors = []
        self.ops = 0
        self.seq = 0
        self.rng = random.Random(h.seed * 100 + n)

    # --- operations (each records itself as in flight first) ---------------
    def call(self, op, fn, *args):
        self.inflight = (op,) + args
        try:
            r = fn()
        except (grpc.RpcError, ValueError) as e:
            # ValueError: the kill closed the channel before this call began
            # (Daemon.stop closes it first)
            if self.h.killing.is_set():
                raise Killed()
            if isinstance(e, ValueError):
                raise
            self.errors.append("%s %r: %s %s" % (op, args, e.code(), e.details()))
            self.inflight = None
            return None
        self.inflight = None
        self.ops += 1
        return r if r is not None else True

    def op_run_pod(self):
        self.seq += 1
        name = "w%d-r%d-p%d-%s" % (self.n, self.h.round, self.seq, uuid.uuid4().hex[:4])
        net = self.rng.random() < 0.7
        cg = "/%s-%d-%d-%d" % (self.h.cg_prefix, self.n, self.h.round, self.seq)
        cfg = pod_config(self.h.pb, name, self.h.logdir, cgroup_parent=cg, net=net,
                         pid_pod=self.rng.random() < 0.2)
        sid = self.call("run_pod", lambda: self.h.c.run_pod(cfg), name, net, cg, cfg)
        if sid:
            self.pods[sid] = {"name": name, "cfg": cfg, "ready": True, "net": net, "cg": cg}

    def op_create(self, sid):
        p = self.pods[sid]
        self.seq += 1
        name = "c%d" % self.seq
        kind = "long" if self.rng.random() < 0.6 else "short"
        code = self.rng.randint(1, 120)
        cmd = ["sleep", "100000"] if kind == "long" else \
            ["sh", "-c", "sleep %.2f; exit %d" % (self.rng.random() * 1.5, code)]
        cfg = ctr_config(self.h.pb, name, self.h.image, cmd)
        cid = self.call("create", lambda: self.h.c.create(sid, cfg, p["cfg"]), sid, name, kind,
                        code)
        if cid:
            self.ctrs[cid] = {"pod": sid, "name": name, "kind": kind, "code": code,
                              "state": "created"}

    def op_start(self, cid):
        if self.call("start", lambda: self.h.c.start(cid), cid):
            self.ctrs[cid]["state"] = "running"

    def op_stop(self, cid):
        if self.call("stop", lambda: self.h.c.stop(cid, self.rng.choice([0, 1])), cid):
            self.ctrs[cid]["state"] = "exited"
            self.ctrs[cid]["code"] = None

    def op_remove(self, cid):
        if self.call("remove", lambda: self.h.c.remove(cid), cid):
            del self.ctrs[cid]

    def op_exec(self, cid):
        r = self.call("exec", lambda: self.h.c.exec(cid, ["sh", "-c", "echo ok"]), cid)
        if r is not None and r is not True and (r.exit_code != 0 or r.stdout != b"ok\n"):
            self.errors.append("exec in %s: exit %d, stdout %r" % (cid, r.exit_code, r.stdout))

    def op_stop_pod(self, sid):
        if self.call("stop_pod", lambda: self.h.c.stop_pod(sid), sid):
            self.pods[sid]["ready"] = False
            for c in self.ctrs.values():
                if c["pod"] == sid and c["state"] != "exited":
                    c["state"] = "exited"
                    c["code"] = None

    def op_remove_pod(self, sid):
        if self.call("remove_pod", lambda: self.h.c.remove_pod(sid), sid):
            del self.pods[sid]
            for cid in [k for k, c in self.ctrs.items() if c["pod"] == sid]:
                del self.ctrs[cid]

    def op_pull(self):
        ref = self.rng.choice(self.h.pull_refs)
        if self.rng.random() < 0.4:
            self.call("remove_image", lambda: self.h.c.remove_image(ref), ref)
        else:
            self.call("pull", lambda: self.h.c.pull(ref), ref)

    def step(self):
        rng = self.rng
        ready = [s for s, p in self.pods.items() if p["ready"]]
        choices = [("pull", 1)]
        if len(self.pods) < MAX_PODS_PER_THREAD:
            choices.append(("run_pod", 3))
        if len(self.pods) >= 2:
            choices += [("stop_pod", 1), ("remove_pod", 2)]
        roomy = [s for s in ready if sum(c["pod"] == s for c in self.ctrs.values())
                 < MAX_CTRS_PER_POD]
        if roomy:
            choices.append(("create", 5))
        by = {st: [k for k, c in self.ctrs.items() if c["state"] == st]
              for st in ("created", "running", "exited")}
        if by["created"]:
            choices.append(("start", 5))
        if by["running"]:
            choices += [("stop", 2), ("exec", 2)]
        if by["exited"] or by["created"]:
            choices.append(("remove", 2))
        op = rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
        if op == "pull":
            self.op_pull()
        elif op == "run_pod":
            self.op_run_pod()
        elif op == "stop_pod":
            self.op_stop_pod(rng.choice(list(self.pods)))
        elif op == "remove_pod":
            self.op_remove_pod(rng.choice(list(self.pods)))
        elif op == "create":
            self.op_create(rng.choice(roomy))
        elif op == "start":
            self.op_start(rng.choice(by["created"]))
        elif op == "stop":
            self.op_stop(rng.choice(by["running"]))
        elif op == "exec":
            live = [k for k in by["running"] if self.ctrs[k]["kind"] == "long"]
            if live:
                self.op_exec(rng.choice(live))
        elif op == "remove":
            self.op_remove(rng.choice(by["exited"] + by["created"]))

    def loop(self):
        try:
            while not self.h.killing.is_set():
                self.step()
        except Killed:
            pass
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.errors.append("worker %d: %r" % (self.n, e))

    # --- after the restart ----------------------------------------------------
    def resolve(self, pods, ctrs):
        """Settles the in-flight RPC against what the restarted daemon lists.
        pods/ctrs: {id: listed object}. Returns the ids the in-flight RPC may
        have left in any state (checked for usability by the caller)."""
        op = self.inflight
        self.inflight = None
        if op is None:
            return
        kind = op[0]
        if kind == "run_pod":
            _, name, net, cg, cfg = op
            got = [p for p in pods.values() if p.metadata.name == name]
            if got:
                self.pods[got[0].id] = {"name": name, "cfg": cfg, "ready": True, "net": net,
                                        "cg": cg}
        elif kind == "create":
            _, sid, name, k, code = op
            got = [c for c in ctrs.values() if c.pod_sandbox_id == sid and c.metadata.name == name]
            if got:
                self.ctrs[got[0].id] = {"pod": sid, "name": name, "kind": k, "code": code,
                                        "state": "created"}
        elif kind in ("start", "stop"):
            cid = op[1]
            c = ctrs.get(cid)
            m = self.ctrs[cid]
            if c is None:
                m["state"] = "exited"  # lost: the caller reports it
            elif kind == "start":
                # created: the start did not happen; else it did (a short one may
                # have exited since and must report its own exit code)
                m["state"] = "created" if c.state == self.h.pb.CONTAINER_CREATED else "running"
            else:
                m["code"] = None
                m["state"] = "exited" if c.state == self.h.pb.CONTAINER_EXITED else "any"
        elif kind == "remove":
            cid = op[1]
            if cid not in ctrs:
                del self.ctrs[cid]
            else:
                self.ctrs[cid]["state"] = "any"
        elif kind == "stop_pod":
            sid = op[1]
            self.h.half_stopped.add(sid)
            self.pods[sid]["ready"] = None  # either
            for c in self.ctrs.values():
                if c["pod"] == sid and c["state"] in ("running", "created"):
                    c["state"] = "any"
                    c["code"] = None
        elif kind == "remove_pod":
            sid = op[1]
            if sid not in pods:
                del self.pods[sid]
                for cid in [k for k, c in self.ctrs.items() if c["pod"] == sid]:
                    del self.ctrs[cid]
            else:
                self.h.half_stopped.add(sid)
                self.pods[sid]["ready"] = None
                for cid in [k for k, c in self.ctrs.items() if c["pod"] == sid]:
                    if cid in ctrs:
                        self.ctrs[cid]["state"] = "any"
                        self.ctrs[cid]["code"] = None
                    else:
                        del self.ctrs[cid]


class Harness:
    def __init__(self, d, c, pb, image, pull_refs, cg_prefix, seed):
        self.d, self.c, self.pb, self.image = d, c, pb, image
        self.pull_refs, self.cg_prefix, self.seed = pull_refs, cg_prefix, seed
        self.logdir = os.path.join(d.base, "logs")
        self.killing = threading.Event()
        self.round = 0
        self.half_stopped = set()  # pods whose Stop/Remove was cut by the kill
        self.workers = [Worker(i, self) for i in range(THREADS)]


def host_view(d, bridge, ipam, cg_prefix):
    sb_dir = os.path.join(d.state, "sandboxes")
    st_ctr = os.path.join(d.state, "containers")
    rt_ctr = os.path.join(d.root, "containers")
    with sqlite3.connect("file:%s?mode=ro" % os.path.join(d.root, "cric.db"), uri=True,
                         timeout=10) as db:
        sb_rows = {r[0] for r in db.execute("SELECT id FROM sandboxes")}
        ctr_rows = {r[0] for r in db.execute("SELECT id FROM containers")}
    shims = {}
    for line in leaks.processes(d.state):
        pid, exe = line.split()
        if exe != "cric-shim":
            continue
        try:
            argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
            shims[argv[argv.index(b"--id") + 1].decode()] = int(pid)
        except (OSError, ValueError, IndexError):
            pass
    return {
        "sb_dirs": set(os.listdir(sb_dir)) if os.path.isdir(sb_dir) else set(),
        "ctr_state_dirs": set(os.listdir(st_ctr)) if os.path.isdir(st_ctr) else set(),
        "ctr_root_dirs": set(os.listdir(rt_ctr)) if os.path.isdir(rt_ctr) else set(),
        "sb_rows": sb_rows, "ctr_rows": ctr_rows, "shims": shims,
        "mounts": leaks.mounts_under(d.root, d.state),
        "veths": leaks.veths_on(bridge), "leases": leaks.ipam_leases(ipam),
        "cgroups": leaks.cgroup_dirs(cg_prefix),
    }


def verify(h, problems, bridge, ipam):
    """Checks the restarted daemon against the workers' models and the host."""
    pb, c, d = h.pb, h.c, h.d
    pods = {p.id: p for p in c.pods()}
    ctrs = {x.id: x for x in c.containers()}
    for w in h.workers:
        w.resolve(pods, ctrs)
    want_pods, want_ctrs = {}, {}
    for w in h.workers:
        want_pods.update(w.pods)
        want_ctrs.update(w.ctrs)
    tag = "round %d: " % h.round
    # listed == told
    for sid in set(pods) - set(want_pods):
        problems.append(tag + "pod %s (%s) listed but never made" % (sid[:12],
                                                                    pods[sid].metadata.name))
    for sid in set(want_pods) - set(pods):
        problems.append(tag + "pod %s (%s) lost" % (sid[:12], want_pods[sid]["name"]))
    for cid in set(ctrs) - set(want_ctrs):
        problems.append(tag + "container %s (%s) listed but never made" %
                        (cid[:12], ctrs[cid].metadata.name))
    for cid in set(want_ctrs) - set(ctrs):
        problems.append(tag + "container %s (%s) lost" % (cid[:12], want_ctrs[cid]["name"]))
    for sid, p in want_pods.items():
        if sid in pods and p["ready"] is not None:
            want = pb.SANDBOX_READY if p["ready"] else pb.SANDBOX_NOTREADY
            if pods[sid].state != want:
                problems.append(tag + "pod %s: state %d, want %d" % (sid[:12], pods[sid].state,
                                                                     want))
    # containers: running ones still run, exits have the right codes
    for cid, m in want_ctrs.items():
        if cid not in ctrs:
            continue
        st = c.status(cid)
        if m["state"] == "created" and st.state != pb.CONTAINER_CREATED:
            problems.append(tag + "container %s: state %d, want CREATED" % (cid[:12], st.state))
        elif m["state"] == "running" and m["kind"] == "long":
            if st.state != pb.CONTAINER_RUNNING:
                problems.append(tag + "container %s: state %d (%s %s), want RUNNING" %
                                (cid[:12], st.state, st.reason, st.message))
        elif m["state"] == "running" and m["kind"] == "short":
            st = c.wait_exited(cid, 10)
            if st.state != pb.CONTAINER_EXITED or (m["code"] is not None and
                                                   st.exit_code != m["code"]):
                problems.append(tag + "container %s: state %d exit %d (%s), want EXITED %s" %
                                (cid[:12], st.state, st.exit_code, st.message, m["code"]))
            m["state"] = "exited"
        elif m["state"] == "exited" and st.state != pb.CONTAINER_EXITED:
            problems.append(tag + "container %s: state %d, want EXITED" % (cid[:12], st.state))
        elif m["state"] == "any":
            # an RPC on it (or its pod) was in flight: any state, from now on exact
            m["code"] = None
            m["state"] = {pb.CONTAINER_CREATED: "created", pb.CONTAINER_RUNNING: "running",
                          pb.CONTAINER_EXITED: "exited"}.get(st.state, "exited")
        if st.state == pb.CONTAINER_EXITED:
            m["state"] = "exited"
    for sid, p in want_pods.items():
        if sid in pods and p["ready"] is None:
            p["ready"] = pods[sid].state == pb.SANDBOX_READY
    # the host matches the listing (re-read after the status calls)
    pods = {p.id: p for p in c.pods()}
    ctrs = {x.id: x for x in c.containers()}
    hv = host_view(d, bridge, ipam, h.cg_prefix)
    for what, have in (("sandbox dirs", hv["sb_dirs"]), ("sandbox rows", hv["sb_rows"])):
        if have != set(pods):
            extra = []
            for x in sorted(have - set(pods)):
                p = os.path.join(d.state, "sandboxes", x)
                extra.append("%s: %s" % (x[:12], sorted(
                    os.path.relpath(os.path.join(dp, f), p) for dp, dn, fn in os.walk(p)
                    for f in dn + fn) if os.path.isdir(p) else "-"))
            problems.append(tag + "%s %s != listed pods %s %s" % (
                what, sorted(x[:12] for x in have ^ set(pods)), len(pods), extra))
    for what, have in (("container state dirs", hv["ctr_state_dirs"]),
                       ("container root dirs", hv["ctr_root_dirs"]),
                       ("container rows", hv["ctr_rows"])):
        if have != set(ctrs):
            problems.append(tag + "%s differ from the listing: %s" % (
                what, sorted(x[:12] for x in have ^ set(ctrs))))
    for cid in set(hv["shims"]) - set(ctrs):
        problems.append(tag + "shim of unlisted container %s" % cid[:12])
    for cid, x in ctrs.items():
        if x.state in (pb.CONTAINER_CREATED, pb.CONTAINER_RUNNING) and cid not in hv["shims"]:
            # listed before the host was read: a container whose stop was in
            # flight may have exited in between, its shim gone with it; the
            # daemon must then report the exit promptly
            st = x.state
            deadline = time.monotonic() + 5
            while st in (pb.CONTAINER_CREATED, pb.CONTAINER_RUNNING) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
                st = c.status(cid).state
            if st in (pb.CONTAINER_CREATED, pb.CONTAINER_RUNNING):
                problems.append(tag + "container %s is %d but has no shim" % (cid[:12], st))
    for mp in hv["mounts"]:
        rel = os.path.relpath(mp, d.state) if mp.startswith(d.state) else mp
        parts = rel.split("/")
        if parts[0] == "sandboxes" and len(parts) > 1:
            if parts[1] not in pods:
                problems.append(tag + "mount of unlisted sandbox: " + mp)
        elif parts[0] == "containers" and len(parts) > 1:
            if parts[1] not in ctrs:
                problems.append(tag + "mount of unlisted container: " + mp)
        elif rel != "sandboxes":
            problems.append(tag + "unexpected mount " + mp)
    net_ready = [s for s, p in pods.items() if p.state == pb.SANDBOX_READY and
                 want_pods.get(s, {}).get("net")]
    # a Stop cut by the kill may leave the network half released (the pod is
    # NOTREADY then, and the next Stop or Remove finishes the release)
    cut = [s for s in h.half_stopped if s in pods and pods[s].state != pb.SANDBOX_READY and
           want_pods.get(s, {}).get("net")]
    for what, n in (("veths on the bridge", len(hv["veths"])), ("IP leases", len(hv["leases"]))):
        if not len(net_ready) <= n <= len(net_ready) + len(cut):
            problems.append(tag + "%d %s for %d ready network pods (+%d half stopped)" %
                            (n, what, len(net_ready), len(cut)))
    listed_cgs = {want_pods[s]["cg"] for s in pods if s in want_pods}
    for cg in hv["cgroups"]:
        top = "/" + cg.split("/")[5]
        if top not in listed_cgs:
            problems.append(tag + "cgroup of no listed pod: " + cg)
    # every listed image is complete (a pull cut by the kill is all or nothing)
    for img in c.images():
        st = c.img.ImageStatus(pb.ImageStatusRequest(image=pb.ImageSpec(image=img.id)),
                               timeout=30).image
        if st.id != img.id or st.size <= 0:
            problems.append(tag + "image %s listed but its status is %r" % (img.id[:19], st))
    return pods, ctrs


def test_kill9_rounds(registry, make_daemon, pb, rel_net, cg_prefix):
    rounds = env_int("CRIC_REL_ROUNDS", 5)
    seed = env_int("CRIC_REL_SEED", int(time.time()))
    bb = busybox_layer_cached()
    image = registry.ref("busybox:latest")
    pull_refs = []
    for i in range(3):
        layer = Layer().file("data%d" % i, os.urandom(2 << 20)).finish("gzip")
        registry.push("relpull%d" % i, ["latest"], [bb, layer])
        pull_refs.append(registry.ref("relpull%d:latest" % i))
    d = make_daemon()
    install_net(d, rel_net)
    c = Client(d, pb)
    c.pull(image)
    baseline = leaks.snapshot(d, bridge=rel_net["bridge"], ipam_dir=rel_net["ipam"],
                              cgroup_prefix=cg_prefix)
    h = Harness(d, c, pb, image, pull_refs, cg_prefix, seed)
    problems = []
    rng = random.Random(seed)
    inflight_at_kill = {}
    ctx = []
    t_start = time.monotonic()
    restart_ms = []
    for rnd in range(rounds):
        h.round = rnd
        h.killing.clear()
        threads = [threading.Thread(target=w.loop) for w in h.workers]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 3.0))
        h.killing.set()
        d.kill9()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a client hung after the kill"
        ctx.append("round %d in flight: %s" % (rnd, [w.inflight[:2] for w in h.workers
                                                      if w.inflight]))
        for w in h.workers:
            if w.inflight:
                inflight_at_kill[w.inflight[0]] = inflight_at_kill.get(w.inflight[0], 0) + 1
        t0 = time.monotonic()
        d.start()
        h.c = c = Client(d, pb)
        c.wait_serving()
        restart_ms.append((time.monotonic() - t0) * 1000)
        verify(h, problems, rel_net["bridge"], rel_net["ipam"])
        for w in h.workers:
            problems += ["round %d: %s" % (rnd, e) for e in w.errors]
            w.errors = []
        if problems:
            break
    survived = rnd + 1 if not problems else rnd
    ops = sum(w.ops for w in h.workers)
    # remove everything: nothing may be left anywhere
    c.remove_everything()
    for ref in pull_refs:
        try:
            c.remove_image(ref)
        except grpc.RpcError:
            pass
    snap = leaks.snapshot(d, bridge=rel_net["bridge"], ipam_dir=rel_net["ipam"],
                          cgroup_prefix=cg_prefix)
    lk = leaks.leaks(snap, baseline)
    figures("crash_kill9", rounds=rounds, survived=survived, seed=seed, rpcs_ok=ops,
            inflight_at_kill=inflight_at_kill, leaks_found=leaks.count(lk),
            problems=len(problems), restart_ms_max=round(max(restart_ms or [0]), 1),
            restart_ms_p50=round(sorted(restart_ms or [0])[len(restart_ms) // 2], 1),
            slow_restart_rounds=[i for i, ms in enumerate(restart_ms) if ms > 2000],
            seconds=round(time.monotonic() - t_start, 1))
    if problems or os.environ.get("CRIC_REL_KEEP_LOG"):
        keep = "/tmp/cric-rel-crash-%d.log" % seed
        with open(keep, "w") as f:
            f.write(d.log())
        if problems:
            problems.append("daemon log kept in " + keep)
    assert not problems, "seed %d:\n%s\n%s\n---- daemon log tail:\n%s" % (
        seed, "\n".join(ctx), "\n".join(problems[:40]), d.log()[-2500:])
    assert not lk, "leaked after remove-all: %r" % lk
