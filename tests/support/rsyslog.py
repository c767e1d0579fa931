"""A real rsyslog (Debian's ``rsyslogd``) started by a test, on loopback or in a netns.

:class:`Rsyslog` writes a private config into a temporary directory -- one input
(``imtcp``, ``imudp``, ``imrelp``; optionally TLS), every message written raw, one per
line, to ``received.log`` -- starts ``rsyslogd -n`` in the foreground, waits until
it listens, and kills it when the block ends. :meth:`Rsyslog.kill` and
:meth:`Rsyslog.start` restart it mid-test (the RELP fault test). ``netns`` runs it
inside a network namespace (``ip netns exec``).

Two settings matter for RELP and are constructor options:

* ``relp_auth_mode`` (``tls.authMode`` of a TLS ``imrelp``): librelp falls back to
  fingerprint authentication when the listener has a certificate and no
  ``tls.authMode``, and then refuses every client (no permitted peers). The default,
  ``"certvalid"``, accepts any client whose certificate the CA signed (the chain is
  checked, not the name), so a client presenting :func:`make_test_certs`' server
  certificate gets in; ``None`` leaves the parameter out.
* ``direct_queue``: rsyslog acknowledges a RELP message once it is in the main
  queue, which is in memory, so a SIGKILL loses what was acknowledged and not yet
  written -- a loss, but rsyslog's. ``main_queue(queue.type="Direct")`` makes
  "acknowledged" mean "written to received.log", so that a fault test can hold a
  sender to exactly its guarantee.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class TlsFiles:
    """PEM files for a TLS receiver: the CA, and the server's certificate and key."""

    ca: Path
    cert: Path
    key: Path


def make_test_certs(where: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A throwaway CA and a server certificate for *host* (an IP SAN), made with the
    ``openssl`` command, valid for a day."""
    where.mkdir(parents=True, exist_ok=True)
    ca, ca_key = where / "ca.pem", where / "ca.key"
    cert, key, csr = where / "server.pem", where / "server.key", where / "server.csr"
    ext = where / "san.ext"
    ext.write_text(f"subjectAltName=IP:{host}\n")
    run = subprocess.run
    run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=trioaudit test CA", "-keyout", ca_key, "-out", ca],
        check=True, capture_output=True,
    )  # fmt: skip
    run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={host}",
         "-keyout", key, "-out", csr],
        check=True, capture_output=True,
    )  # fmt: skip
    run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
         "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", cert],
        check=True, capture_output=True,
    )  # fmt: skip
    return TlsFiles(ca, cert, key)


@dataclass
class Rsyslog:
    """One rsyslogd with one input; see the module docstring."""

    workdir: Path
    kind: str  # "tcp", "udp", "relp"
    host: str = "127.0.0.1"
    port: int = 0
    tls: TlsFiles | None = None
    netns: str | None = None
    relp_auth_mode: str | None = "certvalid"
    direct_queue: bool = False
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.port:
            self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.received = self.workdir / "received.log"
        self.config = self.workdir / "rsyslog.conf"
        self.config.write_text(self._config_text())

    def _config_text(self) -> str:
        lines = [f'global(workDirectory="{self.workdir}" maxMessageSize="64k")']
        tls = self.tls
        if self.kind == "tcp":
            if tls:
                lines.append(
                    f'global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{tls.ca}"'
                    f' DefaultNetstreamDriverCertFile="{tls.cert}"'
                    f' DefaultNetstreamDriverKeyFile="{tls.key}")'
                )
                lines.append(
                    'module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1"'
                    ' StreamDriver.AuthMode="anon")'
                )
            else:
                lines.append('module(load="imtcp")')
            lines.append(f'input(type="imtcp" port="{self.port}" address="{self.host}")')
        elif self.kind == "udp":
            lines.append('module(load="imudp")')
            lines.append(f'input(type="imudp" port="{self.port}" address="{self.host}")')
        elif self.kind == "relp":
            lines.append('module(load="imrelp")')
            extra = ""
            if tls:
                extra = (
                    f' tls="on" tls.caCert="{tls.ca}" tls.myCert="{tls.cert}"'
                    f' tls.myPrivKey="{tls.key}"'
                )
                if self.relp_auth_mode is not None:
                    extra += f' tls.authMode="{self.relp_auth_mode}"'
            lines.append(f'input(type="imrelp" port="{self.port}" address="{self.host}"{extra})')
        else:
            raise ValueError(f"unknown rsyslog input {self.kind!r}")
        if self.direct_queue:
            lines.append('main_queue(queue.type="Direct")')
        lines.append('template(name="raw" type="string" string="%rawmsg%\\n")')
        lines.append(f'*.* action(type="omfile" file="{self.received}" template="raw")')
        return "\n".join(lines) + "\n"

    def start(self, timeout: float = 10.0) -> None:
        """Start rsyslogd in the foreground and wait until its port takes connections
        (UDP: until the socket is bound)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        argv = [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.workdir / "pid")]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        with open(self.workdir / "stderr", "ab") as stderr:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"rsyslogd exited {self.proc.returncode}: "
                    f"{(self.workdir / 'stderr').read_text()[-2000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"rsyslogd not listening on {self.port} in {timeout}s")
            time.sleep(0.05)

    def _listening(self) -> bool:
        proto = "-lun" if self.kind == "udp" else "-ltn"
        argv = ["ss", "-H", proto, f"sport = :{self.port}"]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        return bool(out.strip())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Stop it now (SIGKILL by default: a receiver dying, not shutting down)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / "pid").unlink()

    def lines(self) -> list[bytes]:
        """The messages received so far, one per line, as written."""
        try:
            data = self.received.read_bytes()
        except FileNotFoundError:
            return []
        return data.splitlines()

    def wait_for_lines(self, count: int, timeout: float = 30.0) -> list[bytes]:
        """Wait until *count* messages have been written (or the timeout); return them."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.lines()
            if len(got) >= count or time.monotonic() > deadline:
                return got
            time.sleep(0.05)


@contextlib.contextmanager
def running_rsyslog(
    workdir: Path,
    kind: str,
    *,
    host: str = "127.0.0.1",
    tls: TlsFiles | None = None,
    netns: str | None = None,
    relp_auth_mode: str | None = "certvalid",
    direct_queue: bool = False,
) -> Iterator[Rsyslog]:
    """A started :class:`Rsyslog` (the options are its fields), always killed when the
    block ends."""
    server = Rsyslog(
        workdir,
        kind,
        host=host,
        tls=tls,
        netns=netns,
        relp_auth_mode=relp_auth_mode,
        direct_queue=direct_queue,
    )
    server.start()
    try:
        yield server
    finally:
        server.kill(signal.SIGTERM)


def have_rsyslog() -> bool:
    """Whether rsyslogd is installed (``./test`` installs it; a bare venv may not)."""
    return os.access(RSYSLOGD, os.X_OK)
