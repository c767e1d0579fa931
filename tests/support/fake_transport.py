"""A :class:`~trioaudit.Transport` over a :class:`~tests.support.fake_kernel.FakeKernel` port.

The trio half of the fake kernel: it keeps trio out of the sans-IO
``fake_kernel`` and behaves as :class:`~trioaudit._trio.transport.NetlinkAuditSocket`
does where the client can tell -- ``send`` is a checkpoint before and after and
sends all or nothing, ``receive_batch`` waits for at least one datagram and
never loses a batch to a cancel, ``ENOBUFS`` comes back as an
:class:`~trioaudit.Overflow` marker, a refused multicast join raises
:class:`~trioaudit.AuditPermissionError`.

Use :class:`FakeConnector` as ``open_audit_client(open_transport=...)``::

    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    async with open_audit_client("unicast", open_transport=connect) as client:
        ...
    connect.transport.port  # the kernel's end of the client's socket
"""

from __future__ import annotations

import contextlib
from typing import Any

import trio

from tests.support.fake_kernel import ENOBUFS, Capability, FakeKernel, KernelPort
from trioaudit import AuditClient, AuditPermissionError, ClientMode, Overflow, open_audit_client
from trioaudit._trio.transport import Datagram

__all__ = ["FakeConnector", "FakeTransport", "open_fake_client"]

_OVERFLOW = Overflow()


class FakeTransport:
    """One client's socket to the fake kernel, in memory."""

    #: Batches receive_batch returned: the reader's wake-ups with data.
    batches_returned = 0

    def __init__(self, port: KernelPort) -> None:
        self.port = port
        self._readable = trio.lowlevel.ParkingLot()
        port.on_readable = self._readable.unpark_all
        #: ``send_nowait`` reports a full socket this many more times.
        self.refuse_nowait = 0
        #: Datagrams ``send_nowait`` refused.
        self.refused = 0
        #: While set, ``send`` waits (a socket whose send buffer is full).
        self.sends_blocked = False
        self._sends_unblocked = trio.lowlevel.ParkingLot()
        self.closed = False

    def unblock_sends(self) -> None:
        """Let waiting and later ``send`` calls through."""
        self.sends_blocked = False
        self._sends_unblocked.unpark_all()

    async def send(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        while self.sends_blocked:
            await self._sends_unblocked.park()
        self.port.send(data)
        await trio.lowlevel.cancel_shielded_checkpoint()

    def send_nowait(self, data: bytes) -> bool:
        if self.refuse_nowait > 0:
            self.refuse_nowait -= 1
            self.refused += 1
            return False
        self.port.send(data)
        return True

    async def receive_batch(self, max_batch: int) -> list[Datagram | Overflow]:
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            taken = self.port.take(max_batch)
            if taken:
                self.batches_returned += 1
                await trio.lowlevel.cancel_shielded_checkpoint()
                return [_OVERFLOW if item is ENOBUFS else item for item in taken]
            await self._readable.park()

    def join_multicast(self) -> None:
        try:
            self.port.join_multicast()
        except PermissionError:
            raise AuditPermissionError(
                "joining the audit multicast group needs CAP_AUDIT_READ (fake kernel)"
            ) from None

    def close(self) -> None:
        self.closed = True
        self.port.close()


class FakeConnector:
    """An :class:`~trioaudit.OpenTransport` that connects each client to *kernel*.

    Args:
        kernel: The fake kernel.
        pid: The process the client pretends to be (default: this one).
        capabilities: What that process may do.
    """

    def __init__(
        self,
        kernel: FakeKernel,
        *,
        pid: int | None = None,
        capabilities: Capability = Capability.ALL,
    ) -> None:
        self.kernel = kernel
        self.pid = pid
        self.capabilities = capabilities
        #: Every transport opened, in order.
        self.transports: list[FakeTransport] = []

    @property
    def transport(self) -> FakeTransport:
        """The transport opened last."""
        return self.transports[-1]

    def __call__(self, *, multicast: bool, rcvbuf: int | None) -> FakeTransport:
        port = self.kernel.open_port(pid=self.pid, capabilities=self.capabilities, rcvbuf=rcvbuf)
        transport = FakeTransport(port)
        if multicast:
            try:
                transport.join_multicast()
            except BaseException:
                transport.close()
                raise
        self.transports.append(transport)
        return transport


def open_fake_client(
    kernel: FakeKernel,
    mode: ClientMode = "control",
    *,
    connector: FakeConnector | None = None,
    **options: Any,
) -> contextlib.AbstractAsyncContextManager[AuditClient]:
    """``open_audit_client(mode, ...)`` connected to *kernel* (through *connector*, if given)."""
    return open_audit_client(mode, open_transport=connector or FakeConnector(kernel), **options)
