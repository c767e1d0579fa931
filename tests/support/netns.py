"""A network namespace joined to the host by a veth pair, whose link a test can cut.

:func:`veth_pair_netns` makes a namespace ``PREFIX-XXXXXX`` and a veth pair, the host
end ``10.231.N.1/30``, the namespace end ``10.231.N.2/30`` (``N`` random among the
/30s no interface of the host uses yet), both up, and ``lo`` up inside. A server
started in the namespace (``running_rsyslog(..., host=link.namespace_address,
netns=link.namespace)``) is then a remote host a test can unplug.

:meth:`NetnsLink.cut` sets the *namespace* end of the pair down. That is a cable cut
somewhere on the path, not a local error: the host keeps its address and route, its
packets go into the veth and vanish, and TCP neither sees an RST nor an "unreachable"
error -- it retransmits, its writes pile up in the send buffer and then stall, and
after :meth:`NetnsLink.restore` the next retransmission gets through and the
connection carries on. (Setting the *host* end down would also stall, but it takes
the route away, so a new connect fails at once with "No route to host" instead of
hanging as it does across a real cut.) The tests in
``tests/servers/test_netns_link.py`` check both halves: nothing arrives during the
cut, everything after it.

The namespace and the pair are removed when the block ends, whatever happened
(deleting the namespace deletes its end of the pair and with it the host's end; the
host end is deleted explicitly as well, in case the namespace never got it).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

_SUBNET = "10.231"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``ip ARGS`` (bounded); with *check*, a failure raises with ip's own message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and done.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class NetnsLink:
    """A namespace and the veth pair joining it to the host; see the module docstring."""

    namespace: str
    host_interface: str
    namespace_interface: str
    host_address: str
    namespace_address: str

    def cut(self) -> None:
        """Unplug the link: packets either way are silently dropped (see above)."""
        _ip("-n", self.namespace, "link", "set", self.namespace_interface, "down")

    def restore(self, timeout: float = 5.0) -> None:
        """Plug it back, and wait (bounded) until the host end has its carrier again."""
        _ip("-n", self.namespace, "link", "set", self.namespace_interface, "up")
        deadline = time.monotonic() + timeout
        while "LOWER_UP" not in _ip("link", "show", self.host_interface).stdout:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.host_interface} has no carrier after {timeout}s")
            time.sleep(0.02)

    def run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """*argv* run inside the namespace (output captured, bounded, not checked)."""
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )


def _used_subnets() -> set[int]:
    """The ``N`` of every ``10.231.N.*`` address on the host (another test's pair)."""
    text = _ip("-4", "-o", "addr", "show").stdout
    return {int(n) for n in re.findall(rf"inet {re.escape(_SUBNET)}\.(\d+)\.", text)}


@contextlib.contextmanager
def veth_pair_netns(name_prefix: str = "ta") -> Iterator[NetnsLink]:
    """A fresh namespace joined to the host by a veth pair; removed at the end."""
    if not re.fullmatch(r"[a-z][a-z0-9]{0,5}", name_prefix):
        raise ValueError("name_prefix: 1-6 lowercase letters and digits")
    token = secrets.token_hex(3)
    namespace = f"{name_prefix}-{token}"
    host_if, ns_if = f"{name_prefix}{token}h", f"{name_prefix}{token}n"  # <= 15 chars
    free = sorted(set(range(256)) - _used_subnets())
    if not free:
        raise RuntimeError(f"every {_SUBNET}.N.0/30 is in use on this host")
    subnet = free[secrets.randbelow(len(free))]
    link = NetnsLink(
        namespace=namespace,
        host_interface=host_if,
        namespace_interface=ns_if,
        host_address=f"{_SUBNET}.{subnet}.1",
        namespace_address=f"{_SUBNET}.{subnet}.2",
    )
    try:
        _ip("netns", "add", namespace)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", namespace)
        _ip("addr", "add", f"{link.host_address}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", namespace, "addr", "add", f"{link.namespace_address}/30", "dev", ns_if)
        _ip("-n", namespace, "link", "set", ns_if, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        link.restore()  # waits for the carrier
        yield link
    finally:
        _ip("netns", "del", namespace, check=False)
        _ip("link", "del", host_if, check=False)
