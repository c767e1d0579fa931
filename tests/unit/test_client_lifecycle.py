"""Opening and closing AuditClient over the fake kernel: modes, the pid, cancellation, errors."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Awaitable, Callable

import pytest
import trio

from tests.support.fake_kernel import Capability, FakeKernel
from tests.support.fake_transport import FakeConnector, open_fake_client
from tests.support.tasks import all_tasks
from trioaudit import (
    AuditClient,
    AuditDaemonRunning,
    AuditPermissionError,
    AuditUsageError,
    ClientMode,
    NetlinkError,
    open_audit_client,
)
from trioaudit._tables.msgtypes import AuditMessageType as T
from trioaudit._trio import client as client_module
from trioaudit._trio.client import process_name
from trioaudit._wire.netlink import record_of_datagram

#: A pid no process can have (above PID_MAX_LIMIT, 2**22): a daemon that died.
DEAD_PID = (1 << 22) + 17


def live_foreign_pid() -> int:
    """A process that is alive and not us: the one that started the tests."""
    return os.getppid()


async def test_auto_registers_when_nobody_holds_the_pid() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "auto") as client:
        assert (client.mode, client.registered) == ("unicast", True)
        assert kernel.pid == os.getpid()
        assert (await client.get_status()).pid == os.getpid()
        assert client.statistics().mode == "unicast"
    assert kernel.pid == 0
    assert not client.registered


@pytest.mark.parametrize("mode", ["auto", "multicast"])
async def test_listening_beside_a_live_daemon(mode: ClientMode) -> None:
    kernel = FakeKernel()
    holder = live_foreign_pid()
    kernel.add_daemon(holder)
    connect = FakeConnector(kernel)
    async with open_fake_client(kernel, mode, connector=connect) as client:
        assert (client.mode, client.registered) == ("multicast", False)
        assert connect.transport.port.multicast
        async with client.records() as records:
            kernel.emit(T.USER, "msg='beside the daemon'")
            with trio.fail_after(1):
                record = await records.receive()
        assert record.text.endswith("msg='beside the daemon'")
    assert kernel.pid == holder, "the daemon was displaced"


async def test_unicast_refuses_to_displace_a_live_daemon() -> None:
    kernel = FakeKernel()
    holder = live_foreign_pid()
    kernel.add_daemon(holder)
    connect = FakeConnector(kernel)
    with pytest.raises(AuditDaemonRunning) as info:
        async with open_fake_client(kernel, "unicast", connector=connect):
            pytest.fail("opened over a live daemon")
    assert (info.value.pid, info.value.comm) == (holder, process_name(holder))
    assert f"pid {holder}" in str(info.value)
    assert kernel.pid == holder
    assert connect.transport.closed
    assert [message.type for message in kernel.requests[1:]] == [T.GET]  # no set pid tried


async def test_a_dead_daemons_registration_does_not_block() -> None:
    kernel = FakeKernel()
    kernel.add_daemon(DEAD_PID).close()  # registered, then its socket went away
    assert kernel.pid == DEAD_PID
    async with open_fake_client(kernel, "unicast") as client:
        assert client.registered and kernel.pid == os.getpid()
    assert kernel.pid == 0


async def test_a_second_unicast_client_of_this_process_gets_daemon_running() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "unicast"):
        with pytest.raises(AuditDaemonRunning, match=str(os.getpid())):
            async with open_fake_client(kernel, "unicast"):
                pass
        assert kernel.pid == os.getpid()
    assert kernel.pid == 0


async def test_eexist_from_the_kernel_is_daemon_running() -> None:
    # Somebody registered between our status read and our set pid.
    kernel = FakeKernel()
    kernel.fail_next(T.SET, errno.EEXIST)
    with pytest.raises(AuditDaemonRunning):
        async with open_fake_client(kernel, "unicast"):
            pass
    kernel.fail_next(T.SET, errno.ENOMEM)
    with pytest.raises(NetlinkError, match="ENOMEM"):
        async with open_fake_client(kernel, "unicast"):
            pass
    assert kernel.pid == 0


async def test_set_pid_semantics() -> None:
    kernel = FakeKernel()
    holder = live_foreign_pid()
    daemon = kernel.add_daemon(holder)
    async with open_fake_client(kernel, "control") as client:
        with pytest.raises(NetlinkError) as exists:
            await client.set_pid()
        with pytest.raises(NetlinkError) as access:
            await client.set_pid(0)  # only the daemon may unregister itself
        assert not client.registered
        assert kernel.pid == holder
        # The kernel probed the daemon with AUDIT_REPLACE (payload: our pid) each time.
        probes = [data for data, _ in daemon.take(10) if record_of_datagram(data)[0] == T.REPLACE]
        assert len(probes) == 2
        assert record_of_datagram(probes[0])[1] == os.getpid().to_bytes(4, sys.byteorder)
        daemon.close()
        await client.set_pid()
        assert client.registered and kernel.pid == os.getpid()
        await client.set_pid(0)
        assert not client.registered and kernel.pid == 0
    assert (exists.value.errno_name, access.value.errno_name) == ("EEXIST", "EACCES")


async def test_multicast_without_cap_audit_read() -> None:
    kernel = FakeKernel()
    kernel.add_daemon(live_foreign_pid())
    for mode in ("multicast", "auto"):
        connect = FakeConnector(kernel, capabilities=Capability.AUDIT_CONTROL)
        with pytest.raises(AuditPermissionError, match="CAP_AUDIT_READ"):
            async with open_fake_client(kernel, mode, connector=connect):
                pass
        assert connect.transports == [] or connect.transport.closed


async def test_usage_errors() -> None:
    kernel = FakeKernel()
    with pytest.raises(AuditUsageError, match="unknown mode"):
        async with open_fake_client(kernel, "daemon"):  # type: ignore[arg-type]
            pass
    with pytest.raises(AuditUsageError, match="queue_size"):
        async with open_fake_client(kernel, queue_size=0):
            pass
    with pytest.raises(TypeError, match="open_audit_client"):
        AuditClient(
            FakeConnector(kernel)(multicast=False, rcvbuf=None),
            mode="control",
            queue_size=1,
            reply_timeout=1,
        )
    assert kernel.requests == []


async def test_the_default_transport_is_the_netlink_socket() -> None:
    assert open_audit_client.__wrapped__.__kwdefaults__["open_transport"] is (  # type: ignore[attr-defined]
        client_module.open_netlink_audit_socket
    )


# ---- closing ----------------------------------------------------------------------------------
async def test_unregistering_retries_while_the_socket_is_full(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    async with open_fake_client(kernel, "unicast", connector=connect):
        connect.transport.refuse_nowait = 3
    assert connect.transport.refused == 3
    assert kernel.pid == 0


async def test_unregistering_retries_when_the_ack_is_lost(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "unicast"):
        kernel.drop_next(T.SET, times=2)
    assert kernel.pid == 0
    unregisters = [message for message in kernel.requests if message.type == T.SET]
    assert len(unregisters) == 1 + 3  # register, then three unregister attempts


async def test_unregistering_gives_up_after_a_while(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    start = trio.current_time()
    with caplog.at_level(logging.WARNING, "trioaudit"):
        async with open_fake_client(kernel, "unicast", connector=connect):
            connect.transport.refuse_nowait = 10**6
    assert trio.current_time() - start == pytest.approx(client_module.UNREGISTER_TIMEOUT)
    assert "gave up unregistering" in caplog.text
    assert connect.transport.closed


async def test_a_refused_unregister_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    kernel = FakeKernel()
    with caplog.at_level(logging.WARNING, "trioaudit"):
        async with open_fake_client(kernel, "unicast"):
            kernel.fail_next(T.SET, errno.EACCES)
    assert f"could not unregister audit pid: errno {errno.EACCES}" in caplog.text


async def test_an_exception_leaves_the_block_unwrapped() -> None:
    kernel = FakeKernel()
    with pytest.raises(KeyError, match="mine") as info:
        async with open_fake_client(kernel, "unicast"):
            raise KeyError("mine")
    assert not isinstance(info.value, BaseExceptionGroup)
    assert kernel.pid == 0
    cause = ValueError("cause")
    with pytest.raises(RuntimeError) as chained:
        async with open_fake_client(kernel, "unicast") as client, client.open_events():
            raise RuntimeError("inner") from cause
    assert chained.value.__cause__ is cause


async def test_several_exceptions_stay_a_group() -> None:
    kernel = FakeKernel()

    async def fail(exc: Exception) -> None:
        raise exc

    with pytest.raises(BaseExceptionGroup) as info:
        async with open_fake_client(kernel, "control"), trio.open_nursery() as nursery:
            nursery.start_soon(fail, KeyError("a"))
            nursery.start_soon(fail, ValueError("b"))
    leaves = {type(leaf) for leaf in _leaves(info.value)}
    assert leaves == {KeyError, ValueError}


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found.extend(_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return found


# ---- cancellation at every checkpoint ---------------------------------------------------------
async def _cancel_after(checkpoints: int, body: Callable[[], Awaitable[None]]) -> bool:
    """Run *body*, cancelled after *checkpoints* scheduler checkpoints; True if it finished."""
    finished = False
    with trio.CancelScope() as scope:
        async with trio.open_nursery() as nursery:

            async def canceller() -> None:
                for _ in range(checkpoints):
                    await trio.lowlevel.checkpoint()
                scope.cancel()

            nursery.start_soon(canceller)
            await body()
            finished = True
            scope.cancel()
    return finished


async def _each_cancellation_point(
    body: Callable[[], Awaitable[None]], check: Callable[[int], None], *, at_most: int = 400
) -> int:
    """Cancel *body* after 0, 1, 2... checkpoints until it finishes first; return that count."""
    for checkpoints in range(at_most):
        finished = await _cancel_after(checkpoints, body)
        check(checkpoints)
        if finished:
            return checkpoints
    raise AssertionError(f"the body never finished within {at_most} checkpoints")


@pytest.mark.parametrize("mode", ["unicast", "auto", "multicast", "control"])
async def test_cancel_open_use_and_close_at_every_checkpoint(mode: ClientMode) -> None:
    kernel = FakeKernel()
    if mode == "multicast":
        kernel.add_daemon(live_foreign_pid())
    holder = kernel.pid
    connect = FakeConnector(kernel)
    tasks_before = all_tasks()
    clients: list[AuditClient] = []

    async def body() -> None:
        async with open_fake_client(kernel, mode, connector=connect) as client:
            clients.append(client)
            await client.get_status()
            await client.set_rate_limit(5)
            await client.list_rules()
            if mode != "control":
                async with client.records() as records:
                    kernel.emit(T.USER, "msg='x'")
                    await records.receive()

    def check(checkpoints: int) -> None:
        where = f"{mode}, cancelled after {checkpoints} checkpoints"
        assert kernel.pid == holder, f"{where}: pid {kernel.pid} left registered"
        assert all(transport.closed for transport in connect.transports), f"{where}: open socket"
        assert all_tasks() == tasks_before, f"{where}: a task was left behind"
        for client in clients:
            assert not client._waiters and not client._protocol.pending, f"{where}: waiter left"
            assert not client.registered or kernel.pid == os.getpid()

    points = await _each_cancellation_point(body, check)
    assert points > 5  # the body really has that many places to be cancelled


async def test_cancel_each_request_at_every_checkpoint() -> None:
    kernel = FakeKernel()
    async with open_fake_client(kernel, "unicast") as client:
        for request in (
            client.get_status,
            lambda: client.set_backlog_limit(64),
            lambda: client.request_dump(T.LIST_RULES),
            client.get_features,
            lambda: client.send_user_message("hi"),
        ):

            def check(checkpoints: int) -> None:
                assert not client._waiters, f"a waiter left after {checkpoints} checkpoints"
                assert not client._protocol.pending

            await _each_cancellation_point(request, check)  # type: ignore[arg-type]
        # Whether one of the cancellations above fell between a request's send and the
        # reader taking its answer depends on trio's randomised scheduling order (each
        # request has one such checkpoint; all five missed it now and then). So one more,
        # certainly so: its answer is held back until the request has been cancelled.
        kernel.hold_next(T.GET)
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:

                async def cancel_once_answered() -> None:
                    while not kernel.holding:
                        await trio.lowlevel.checkpoint()
                    scope.cancel()

                nursery.start_soon(cancel_once_answered)
                await client.get_status()
        assert scope.cancelled_caught and not client._waiters
        assert kernel.release() > 0  # the answers arrive after their request is gone
        assert (await client.get_status()).pid == os.getpid()  # still in working order
        assert client.statistics().unmatched_replies > 0  # answers to the cancelled ones
    assert kernel.pid == 0


async def test_a_cancel_before_the_reader_started_leaves_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    kernel = FakeKernel()
    connect = FakeConnector(kernel)
    with trio.CancelScope() as scope:
        scope.cancel()
        async with open_fake_client(kernel, "unicast", connector=connect):
            pytest.fail("entered a cancelled block")  # pragma: no cover
    assert connect.transport.closed and kernel.pid == 0
