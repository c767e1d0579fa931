"""The syslog sender across a link that is cut: rsyslog in a network namespace.

A short cut loses nothing (TCP retransmits once the link is back, and the sender
neither fails nor gives up while the writes wait); a cut longer than the sender's
``send_timeout`` fails the send in bounded time, so that an output can spool instead
of waiting forever. See :mod:`tests.support.netns` for how the link is cut (silent
drops, not resets).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
import trio

from tests.servers.test_syslog_rsyslog import as_sent
from tests.support.netns import NetnsLink, veth_pair_netns
from tests.support.rsyslog import Rsyslog, have_rsyslog, running_rsyslog
from trioaudit._daemon.senders import SendFailed
from trioaudit._daemon.syslog import SyslogSender
from trioaudit._output.syslog import SyslogTarget, rfc5424_message

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not have_rsyslog() or not shutil.which("ip"),
    reason="needs root, rsyslogd and iproute2 (network namespaces)",
)

CUT_SECONDS = 5.0


def messages(count: int, start: int = 0, size: int = 200) -> list[bytes]:
    return [
        rfc5424_message(
            b"event %06d " % index + b"x" * size,
            timestamp=1795714536.840 + index,
            hostname="sender.example",
            procid=str(index),
        )
        for index in range(start, start + count)
    ]


async def received(server: Rsyslog, count: int, wait_seconds: float) -> list[bytes]:
    lines = await trio.to_thread.run_sync(server.wait_for_lines, count, wait_seconds)
    return [as_sent(line) for line in lines]


def is_subsequence(wanted: Sequence[bytes], got: Sequence[bytes]) -> bool:
    remaining = iter(got)
    return all(any(line == item for line in remaining) for item in wanted)


async def test_a_short_cut_loses_nothing(tmp_path: Path) -> None:
    with (
        veth_pair_netns("tacut") as link,
        running_rsyslog(
            tmp_path, "tcp", host=link.namespace_address, netns=link.namespace
        ) as server,
    ):
        sender = SyslogSender(
            SyslogTarget("tcp", link.namespace_address, server.port), send_timeout=20
        )
        sent = messages(3000)
        batches = [sent[start : start + 50] for start in range(0, len(sent), 50)]
        seen_during_cut: list[int] = []

        async def restore_later(link: NetnsLink) -> None:
            await trio.sleep(CUT_SECONDS)
            seen_during_cut.append(len(server.lines()))
            link.restore()

        with trio.fail_after(30):
            await sender.connect()
            for batch in batches[:20]:
                await sender.send(batch)
            assert len(await received(server, 1000, 10)) == 1000
            link.cut()
            start = trio.current_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(restore_later, link)
                # The stream goes on during the cut: 40 batches over some 4 s. The
                # writes fill the send buffer and then wait (less than send_timeout).
                for batch in batches[20:]:
                    await sender.send(batch)
                    await trio.sleep(0.1)
            sending_took = trio.current_time() - start
            got = await received(server, len(sent), 15)
        assert seen_during_cut == [1000], "the cut let messages through"
        assert sending_took < CUT_SECONDS + 10
        assert len(got) == len(sent)
        assert got == sent
        await sender.aclose()


async def test_a_cut_longer_than_send_timeout_fails_the_send_in_bounded_time(
    tmp_path: Path,
) -> None:
    with (
        veth_pair_netns("tasto") as link,
        running_rsyslog(
            tmp_path, "tcp", host=link.namespace_address, netns=link.namespace
        ) as server,
    ):
        target = SyslogTarget("tcp", link.namespace_address, server.port)
        sender = SyslogSender(target, connect_timeout=5, send_timeout=1.0)
        with trio.fail_after(10):
            await sender.connect()
            await sender.send(messages(10))
            assert len(await received(server, 10, 5)) == 10
        link.cut()
        try:
            big = messages(64, start=10, size=1024)  # ~70 KB a batch
            start = trio.current_time()
            failure = None
            with trio.fail_after(15):
                # Bounded: 300 batches (~20 MB) are more than any send buffer holds.
                for _ in range(300):
                    try:
                        await sender.send(big)
                    except SendFailed as error:
                        failure = error
                        break
            took = trio.current_time() - start
        finally:
            link.restore()
        assert failure is not None, "sending into a cut link never failed"
        # Either the write stalled for send_timeout, or the kernel's TCP_USER_TIMEOUT
        # (the same 1 s) gave up on the unacknowledged data first.
        assert "stalled for 1 s" in str(failure) or "timed out" in str(failure), failure
        assert 0 <= failure.delivered <= len(big)
        assert took < 8
        # The output reconnects once the link is back, and resends.
        resent = messages(20, start=100_000)
        with trio.fail_after(20):
            await sender.aclose()
            await sender.connect()
            await sender.send(resent)
            got = await received(server, 10 + len(resent), 15)
            while not is_subsequence(resent, got):  # bounded by the fail_after
                await trio.sleep(0.1)
                got = [as_sent(line) for line in server.lines()]
        await sender.aclose()
