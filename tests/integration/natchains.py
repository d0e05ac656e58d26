"""The host's NAT table as the CNI portmap plugin leaves it: fixtures note the
chains before their pods run and remove only the chains that appeared since
(tests/integration/test_sandbox.py, tests/reliability/conftest.py)."""
import shlex
import subprocess


def sh(*cmd, check=True):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check).stdout


def nat_rules():
    return sh("iptables-save", "-t", "nat", check=False).splitlines()


def nat_chains():
    return {l.split()[0][1:] for l in nat_rules() if l.startswith(":")}


def remove_nat_chains_since(before):
    """Deletes the chains not in before, and the jumps into them from older
    chains."""
    new = nat_chains() - before
    for line in nat_rules():
        parts = shlex.split(line)
        if line.startswith("-A") and "-j" in parts and parts[parts.index("-j") + 1] in new \
                and parts[1] not in new:
            sh("iptables", "-t", "nat", "-D", *parts[1:], check=False)
    for chain in new:
        sh("iptables", "-t", "nat", "-F", chain, check=False)
    for chain in new:
        sh("iptables", "-t", "nat", "-X", chain, check=False)
