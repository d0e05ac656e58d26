"""GetContainerEvents against a real daemon: every subscriber gets every
lifecycle event in order, with the pod status attached; subscribers that go
away leave nothing behind."""
import queue
import threading
import time

import grpc
import pytest

from test_sandbox import cni_env, netd, pod_config, run, stop_remove  # noqa: F401


class Subscriber:
    def __init__(self, d, pb):
        self.q = queue.Queue()
        self.stream = d.runtime().GetContainerEvents(pb.GetEventsRequest())
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        try:
            for ev in self.stream:
                self.q.put((time.time_ns(), ev))
        except grpc.RpcError as e:
            self.q.put((time.time_ns(), e))

    def take(self, n, timeout=10, with_arrival=False):
        """The next n events (with their wall-clock arrival times if asked)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            out.append(self.q.get(timeout=max(0.01, deadline - time.monotonic())))
        return out if with_arrival else [ev for _, ev in out]

    def close(self):
        self.stream.cancel()
        self.t.join(5)


def wait_subscribed(d, n=1):
    # The subscription is registered on the daemon's loop right after the call
    # starts; a short pause covers the round trip.
    time.sleep(0.3)


def test_sandbox_lifecycle_events_to_every_subscriber_in_order(netd, pb):
    d = netd
    subs = [Subscriber(d, pb), Subscriber(d, pb)]
    wait_subscribed(d)
    sid = run(d, pb, pod_config(pb, host_net=True, labels={"e": "1"}))
    stop_remove(d, pb, sid)
    for s in subs:
        evs = s.take(4)
        assert [e.container_event_type for e in evs] == [
            pb.CONTAINER_CREATED_EVENT, pb.CONTAINER_STARTED_EVENT,
            pb.CONTAINER_STOPPED_EVENT, pb.CONTAINER_DELETED_EVENT]
        assert all(e.container_id == sid for e in evs)
        assert all(e.pod_sandbox_status.id == sid for e in evs)
        assert evs[1].pod_sandbox_status.state == pb.SANDBOX_READY
        assert evs[1].pod_sandbox_status.labels["e"] == "1"
        assert evs[2].pod_sandbox_status.state == pb.SANDBOX_NOTREADY
        ts = [e.created_at for e in evs]
        assert ts == sorted(ts) and ts[0] > 0
    for s in subs:
        s.close()


def test_events_keep_flowing_after_a_subscriber_leaves(netd, pb):
    d = netd
    a, b = Subscriber(d, pb), Subscriber(d, pb)
    wait_subscribed(d)
    a.close()
    sids = [run(d, pb, pod_config(pb, host_net=True)) for _ in range(3)]
    for sid in sids:
        stop_remove(d, pb, sid)
    evs = b.take(12)
    for sid in sids:
        assert [e.container_event_type for e in evs if e.container_id == sid] == [
            pb.CONTAINER_CREATED_EVENT, pb.CONTAINER_STARTED_EVENT,
            pb.CONTAINER_STOPPED_EVENT, pb.CONTAINER_DELETED_EVENT]
    b.close()
    # Stopping and removing again publishes nothing new (idempotent calls).
    c = Subscriber(d, pb)
    wait_subscribed(d)
    stop_remove(d, pb, sids[0])
    with pytest.raises(queue.Empty):
        c.q.get(timeout=0.5)
    c.close()


def test_daemon_shutdown_ends_open_subscriptions(netd, pb):
    d = netd
    s = Subscriber(d, pb)
    wait_subscribed(d)
    assert d.stop() == 0
    got = s.q.get(timeout=10)[1]
    assert isinstance(got, grpc.RpcError)


from test_container import Env, images  # noqa: E402,F401


def test_container_events_including_exit_by_itself(make_daemon, pb, images):  # noqa: F811
    e = Env(make_daemon(), pb, images, "crun")
    sub = Subscriber(e.d, pb)
    wait_subscribed(e.d)
    sid = e.pod()
    cid = e.run(sid, e.config("quick", ["sh", "-c", "sleep 1; exit 3"]))
    got = sub.take(5, with_arrival=True)  # sandbox created+started, container c+s+stopped
    evs = [ev for _, ev in got]
    assert [(x.container_id, x.container_event_type) for x in evs] == [
        (sid, pb.CONTAINER_CREATED_EVENT), (sid, pb.CONTAINER_STARTED_EVENT),
        (cid, pb.CONTAINER_CREATED_EVENT), (cid, pb.CONTAINER_STARTED_EVENT),
        (cid, pb.CONTAINER_STOPPED_EVENT)]
    stopped = evs[4]
    assert stopped.pod_sandbox_status.id == sid
    mine = [c for c in stopped.containers_statuses if c.id == cid]
    assert len(mine) == 1 and mine[0].state == pb.CONTAINER_EXITED and mine[0].exit_code == 3
    st = e.status(cid).status
    # The STOPPED event reached this client within 100 ms of the exit the
    # shim recorded (arrival taken by the reading thread).
    lat_ms = (got[4][0] - st.finished_at) / 1e6
    assert 0 <= (stopped.created_at - st.finished_at) / 1e6 < lat_ms + 1
    assert lat_ms < 100, lat_ms
    e.remove(cid)
    (deleted,) = sub.take(1)
    assert deleted.container_id == cid
    assert deleted.container_event_type == pb.CONTAINER_DELETED_EVENT
    e.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=sid), timeout=60)
    sub.close()
