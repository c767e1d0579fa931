"""Slow consumer: a consumer that stalls for seconds under a flood (live kernel, root).

What must hold while the consumer sleeps:

* the reader keeps draining the socket (it never waits for the consumer):
  requests are still answered during the stall, the kernel's backlog stays
  small and its ``lost`` counter flat;
* memory stays bounded: the client queue holds at most ``queue_size``
  records, everything beyond is dropped *and counted*
  (``records_dropped``); resident memory is measured;
* afterwards the consumer gets the queued records and then new ones again.

The same for the ``trioaudit tail`` command whose stdout is not read for a
few seconds: the stall must cost counted drops reported on stderr, never a
kernel backlog.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time

import pytest
import trio

from tests.support.hardening_helpers import rss_bytes, send_user_message, storm
from tests.support.kernelstate import MASK_BACKLOG, MASK_ENABLED, RawAudit
from trioaudit import AuditMessageType, open_audit_client

pytestmark = [pytest.mark.kernel, pytest.mark.usefixtures("audit_state")]

#: Records in the flood.
FLOOD = 20_000
#: Bytes of text per flood record (a realistic record size).
RECORD_TEXT = 300
#: Seconds the consumer stalls.
STALL = 3.0
#: Records the client may buffer for the consumer.
QUEUE = 1000
#: Resident memory the client may grow by during the flood.
MAX_RSS_GROWTH = 32 * 1024 * 1024
#: The kernel backlog a reader that never blocks keeps under, even mid-flood.
#: The flood arrives at >100k records/s, so a momentary backlog of a few
#: thousand is scheduling noise on a 2-core machine; a reader that blocked on
#: its consumer would instead sit at the whole flood (20,000) for the stall.
MAX_BACKLOG = FLOOD // 2
TAIL = [sys.executable, "-m", "trioaudit.cli.main", "tail"]
#: Seconds after the flood by which a reader that never blocks has drained the kernel queue.
SETTLE = 1.0
#: The kernel backlog tolerated once settled.
SETTLED_BACKLOG = 100
#: Seconds any one test may take.
DEADLINE = 40.0


async def test_stalled_consumer_costs_counted_drops_not_memory(raw_audit: RawAudit) -> None:
    raw_audit.set_status(MASK_ENABLED | MASK_BACKLOG, enabled=1, backlog_limit=4 * FLOOD)
    tag = f"trioaudit-stall-{os.getpid()}"
    lost_before = raw_audit.status()["lost"]
    backlogs: list[int] = []
    settled_backlogs: list[int] = []
    flood_done_at: float | None = None
    consumed = 0
    with trio.fail_after(DEADLINE):
        async with open_audit_client("unicast", queue_size=QUEUE) as client:
            async with client.records() as records, trio.open_nursery() as nursery:
                before = client.statistics()
                rss_before = rss_bytes()
                rss_peak = rss_before

                async def watch() -> None:
                    nonlocal rss_peak
                    while True:  # requests answered during the stall = the reader is alive
                        backlog = (await client.get_status()).backlog
                        backlogs.append(backlog)
                        settled = flood_done_at is not None and (
                            trio.current_time() > flood_done_at + SETTLE
                        )
                        if settled:
                            settled_backlogs.append(backlog)
                        rss_peak = max(rss_peak, rss_bytes())
                        await trio.sleep(0.05)

                nursery.start_soon(watch)
                flood = await trio.to_thread.run_sync(
                    functools.partial(storm, FLOOD, tag, payload_size=RECORD_TEXT)
                )
                flood_done_at = trio.current_time()
                await trio.sleep(STALL)  # the consumer is asleep: nothing is received
                during = client.statistics()
                # Wake up: take what was queued, then expect new records to flow again.
                while True:
                    try:
                        records.receive_nowait()
                    except trio.WouldBlock:
                        break
                    consumed += 1
                marker = f"{tag} after-stall".encode()
                await trio.to_thread.run_sync(send_user_message, marker)
                async for record in records:
                    consumed += 1
                    if record.type == AuditMessageType.USER and "after-stall" in record.text:
                        break
                nursery.cancel_scope.cancel()
            after = client.statistics()
            status = await client.get_status()
    received = during.records_received - before.records_received
    dropped = during.records_dropped - before.records_dropped
    print(
        f"\nFIGURES stall: flood={FLOOD}x{RECORD_TEXT}B sent in {flood:.3f}s, stall={STALL}s "
        f"queue={QUEUE} received_by_reader={received} dropped={dropped} "
        f"queued_during_stall={during.queue_used} max_kernel_backlog={max(backlogs)} "
        f"max_settled_backlog={max(settled_backlogs, default=-1)} "
        f"kernel_lost_delta={status.lost - lost_before} status_polls={len(backlogs)} "
        f"rss_before={rss_before >> 20}MiB rss_peak={rss_peak >> 20}MiB "
        f"growth={(rss_peak - rss_before) >> 10}KiB"
    )
    assert received >= FLOOD, "the reader took every record off the socket during the stall"
    assert during.queue_used <= QUEUE
    assert dropped >= FLOOD - QUEUE, "what did not fit was dropped..."
    assert after.records_dropped + consumed + after.queue_used >= after.records_received - 5
    assert after.overflows == 0, "...by us, counted, not by the kernel at our socket"
    assert status.lost == lost_before
    assert len(backlogs) >= STALL / 0.1, "status requests were answered during the stall"
    assert max(backlogs) < MAX_BACKLOG
    assert len(settled_backlogs) >= (STALL - SETTLE) / 0.1
    assert max(settled_backlogs) < SETTLED_BACKLOG, "the kernel queue drained while we stalled"
    assert rss_peak - rss_before < MAX_RSS_GROWTH


def test_tail_with_unread_stdout_reports_drops_and_keeps_kernel_backlog_low(
    raw_audit: RawAudit,
) -> None:
    raw_audit.set_status(MASK_ENABLED | MASK_BACKLOG, enabled=1, backlog_limit=4 * FLOOD)
    tag = f"trioaudit-stall-cli-{os.getpid()}"
    lost_before = raw_audit.status()["lost"]
    proc = subprocess.Popen(
        [*TAIL, "--unicast", "--duration", "8", "--queue-size", str(QUEUE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while raw_audit.status()["pid"] != proc.pid and time.monotonic() < deadline:
            time.sleep(0.05)
        storm(FLOOD, tag, payload_size=RECORD_TEXT)
        backlogs = []
        stall_end = time.monotonic() + STALL
        while time.monotonic() < stall_end:  # nobody reads the tail's stdout meanwhile
            backlogs.append(raw_audit.status()["backlog"])
            time.sleep(0.1)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    lines = out.count(b"\n")
    print(
        f"\nFIGURES tail-stall: flood={FLOOD} stall={STALL}s queue={QUEUE} lines={lines} "
        f"max_kernel_backlog={max(backlogs)} "
        f"kernel_lost_delta={raw_audit.status()['lost'] - lost_before} "
        f"stderr={err.decode(errors='replace').strip()!r}"
    )
    assert proc.returncode == 0, err
    # Right after the flood the kernel queue is full of records still to read (the
    # reader parses as it goes); a reader stalled by stdout would keep it there.
    settled = backlogs[int(SETTLE / 0.1) :]
    assert settled and max(settled) < SETTLED_BACKLOG, "the tail's reader stalled with its stdout"
    assert b"dropped" in err, "drops must be reported"
    assert raw_audit.status()["lost"] == lost_before
    assert raw_audit.status()["pid"] == 0
