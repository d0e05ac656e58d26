"""Builds OCI bundles for tests that drive an OCI runtime (crun/runc) without
the daemon: a rootfs from Debian's static busybox plus a minimal config.json."""
import json
import os
import shutil
import subprocess

BUSYBOX = "/bin/busybox"

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
          "www-data:x:33:33:www-data:/var/www:/bin/false\n"
          "nobody:x:65534:65534:nobody:/home:/bin/false\n")
GROUP = ("root:x:0:\ndaemon:x:1:\nwheel:x:10:root\nwww-data:x:33:\n"
         "users:x:100:\nnogroup:x:65534:\n")


def make_rootfs(path):
    """A busybox rootfs at path: /bin/busybox with its applet links, /etc files."""
    for d in ("bin", "etc", "tmp", "proc", "sys", "dev", "root", "var/www", "home"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    os.chmod(os.path.join(path, "tmp"), 0o1777)
    shutil.copy2(BUSYBOX, os.path.join(path, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for a in applets:
        link = os.path.join(path, "bin", a)
        if a != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write(GROUP)
    return path


def default_config(args, tty=False, env=None, cwd="/"):
    """A small OCI runtime config: own pid/ipc/uts/mount/net namespaces, the
    usual /proc, /dev, /sys mounts, a read-write busybox root."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": tty,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": env or ["PATH=/bin:/sbin:/usr/bin:/usr/sbin", "TERM=xterm"],
            "cwd": cwd,
            "capabilities": {k: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID",
                                 "CAP_SETGID", "CAP_DAC_OVERRIDE", "CAP_FOWNER"]
                             for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": "bundle",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def make_bundle(path, args, tty=False, env=None, config_patch=None):
    """Creates path/rootfs and path/config.json; returns path."""
    os.makedirs(path, exist_ok=True)
    make_rootfs(os.path.join(path, "rootfs"))
    cfg = default_config(args, tty=tty, env=env)
    if config_patch:
        config_patch(cfg)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def ensure_crun_cgroup_layout():
    """crun 1.8 refuses this host's hybrid layout while hugetlb sits on the v2
    mount; mounting the hugetlb v1 hierarchy moves it and crun accepts."""
    if not os.path.isdir("/sys/fs/cgroup/unified"):
        return
    with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
        if not f.read().strip():
            return
    os.makedirs("/sys/fs/cgroup/hugetlb", exist_ok=True)
    subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup", "/sys/fs/cgroup/hugetlb"],
                   check=True)
