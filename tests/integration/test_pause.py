"""cric-pause, the infra process of pods that share one PID namespace. Its
launcher records pid 1 ("<host pid> <start time>") before pid 1 may run, so
teardown finds it even when the daemon was killed while starting it (the
kill -9 harness once left a pid 1 that nothing on disk named); a pid 1 whose
record could not be written exits instead of staying."""
import os
import signal
import subprocess
import time

from conftest import BUILD

PAUSE = os.path.join(BUILD, "src", "pod", "pause", "cric-pause")


def start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def processes_naming(marker):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def gone(pid, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except OSError:
            return True
        time.sleep(0.02)
    return False


def test_records_pid1_before_it_runs(tmp_path):
    record = str(tmp_path / "infra")
    out = subprocess.run([PAUSE, "--record", record], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout)
    try:
        text = open(record).read()
        assert text == "%d %d\n" % (pid, start_time(pid))
        assert not os.path.exists(record + ".tmp")
        assert open("/proc/%d/comm" % pid).read().strip() == "cric-pause"
        assert os.readlink("/proc/%d/ns/pid" % pid) != os.readlink("/proc/self/ns/pid")
    finally:
        os.kill(pid, signal.SIGTERM)
    assert gone(pid)


def test_pid1_without_a_record_does_not_stay(tmp_path):
    record = str(tmp_path / "missing-dir" / "infra")
    out = subprocess.run([PAUSE, "--record", record], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 1 and "record" in out.stderr, out
    assert out.stdout == ""
    deadline = time.monotonic() + 5
    while processes_naming(record) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert processes_naming(record) == []


def test_record_is_required():
    out = subprocess.run([PAUSE], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "--record" in out.stderr
