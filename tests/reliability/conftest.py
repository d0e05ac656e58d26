"""Fixtures of the reliability harness. It reuses tests/integration's daemon
and registry fixtures (same Daemon class, same docker-registry with busybox)
and adds: a private CNI bridge network (its own bridge, subnet and IPAM dir so
that the leak checker sees only this harness's veths and leases), a unique
cgroup parent prefix, sizes from the environment, and a figures file.

Sizes (defaults are the quick variant that runs in `make test`):
  CRIC_REL_ROUNDS        kill -9 rounds of the crash test          (5)
  CRIC_REL_CHURN_PODS    short-lived pods of the churn test        (50)
  CRIC_REL_CHURN_CLIENTS concurrent churn clients                   (8)
  CRIC_REL_LOAD_PODS     pods (2 containers each) of the load test  (10)
  CRIC_REL_LOAD_CLIENTS  concurrent clients creating them           (16)
  CRIC_REL_LOAD_SECONDS  probing/polling time of the load test      (30)
  CRIC_REL_FIGURES       JSON-lines file the figures are appended to
  CRIC_REL_KEEP_LOG      set: the crash test keeps its daemon log in /tmp even when it passes
Helpers the test modules share are in relutil.py, workload.py and leaks.py.
"""
import importlib.util
import os
import subprocess
import sys
import tempfile
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
INTEGRATION = os.path.join(os.path.dirname(HERE), "integration")
sys.path.insert(0, INTEGRATION)
sys.path.insert(0, HERE)
from natchains import nat_chains, remove_nat_chains_since, sh  # noqa: E402

_spec = importlib.util.spec_from_file_location("cric_integration_conftest",
                                               os.path.join(INTEGRATION, "conftest.py"))
_it = importlib.util.module_from_spec(_spec)
sys.modules["cric_integration_conftest"] = _it
_spec.loader.exec_module(_it)

# the integration fixtures, shared as they are
pb = _it.pb
make_daemon = _it.make_daemon
daemon = _it.daemon
registry = _it.registry
Daemon = _it.Daemon
BUILD = _it.BUILD

BRIDGE_PREFIX = "cric-r"
SUBNET = "10.232.0.0/16"
GATEWAY = "10.232.0.1"
CNI_BIN = "/usr/lib/cni"


@pytest.fixture(scope="session")
def rel_net():
    """The harness's own bridge network: a bridge named for this run on
    10.232.0.0/16 with a private host-local IPAM dir. The bridge and portmap's
    new iptables chains are removed at the end. Bridges an earlier, killed run
    left behind are removed first: their veths would be counted as ours and
    their gateway address would shadow our subnet."""
    if not os.path.exists(os.path.join(CNI_BIN, "bridge")):
        pytest.skip("containernetworking-plugins not installed")
    for line in sh("ip", "-o", "link", "show", "type", "bridge", check=False).splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(BRIDGE_PREFIX):
            sh("ip", "link", "del", name, check=False)
    BRIDGE = BRIDGE_PREFIX + os.urandom(4).hex()
    before = nat_chains()
    ipam = tempfile.mkdtemp(prefix="cric-rel-ipam-")
    conf = {
        "cniVersion": "1.0.0",
        "name": "cric-rel",
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "dataDir": ipam,
                      "ranges": [[{"subnet": SUBNET, "gateway": GATEWAY}]]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    yield {"ipam": ipam, "bridge": BRIDGE, "conflist": conf}
    sh("ip", "link", "del", BRIDGE, check=False)
    remove_nat_chains_since(before)
    subprocess.run(["rm", "-rf", ipam])


@pytest.fixture
def cg_prefix():
    """A cgroup parent prefix unique to the test: pods use /<prefix>-<n>."""
    return "cric-rel-" + uuid.uuid4().hex[:8]
