"""TLS and error text for the network senders (syslog and RELP), on trio.

Both senders talk TLS to a receiver the same way -- the settings are
:class:`~trioaudit._output.endpoints.TlsOptions` -- and both must say why a
connection failed in words an operator can act on, so both live here once:

``client_context``
    The ``ssl.SSLContext`` for a set of TLS settings, or a :class:`ValueError` naming
    the file that cannot be loaded (a daemon calls it while checking its config).
``client_stream``
    A ``trio.SSLStream`` over a connected TCP stream, checking the receiver's name.
``describe_error``
    An exception as one line for a :class:`~trioaudit._daemon.senders.SendFailed`.
"""

from __future__ import annotations

import ssl

import trio

from .._output.endpoints import TlsOptions

__all__ = ["client_context", "client_stream", "describe_error"]


def client_context(options: TlsOptions) -> ssl.SSLContext:
    """The client TLS context for *options*: TLS 1.2 or newer; unless ``verify`` is
    off, the CA file (or the system's CAs) and name checking; the client certificate
    and key when given.

    Raises :class:`ValueError` naming the file that cannot be loaded. The senders
    build a fresh context for every connection, so a renewed certificate is picked
    up on reconnect. With ``verify`` off the CA file is not read: it is not used.
    """
    if options.verify:
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=options.ca)
        except (OSError, ssl.SSLError) as error:
            raise ValueError(f"ca: cannot load {options.ca}: {describe_error(error)}") from None
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if options.cert:
        try:
            context.load_cert_chain(options.cert, options.key)
        except (OSError, ssl.SSLError) as error:
            files = options.cert + (f" and {options.key}" if options.key else "")
            raise ValueError(f"cert/key: cannot load {files}: {describe_error(error)}") from None
    return context


def client_stream(
    tcp: trio.SocketStream, options: TlsOptions, host: str
) -> trio.SSLStream[trio.SocketStream]:
    """A TLS client stream over *tcp* to *host*, the handshake not yet done (the
    caller does it, under its own timeout): the certificate must name
    ``options.server_name`` or, when that is ``None``, *host*. :class:`ValueError`
    as :func:`client_context`."""
    context = client_context(options)
    return trio.SSLStream(tcp, context, server_hostname=options.server_name or host)


def describe_error(error: BaseException) -> str:
    """An error as a reader wants it: the TLS reason under trio's wrapper, the
    ``strerror`` of an ``OSError``, the reasons of every address
    ``trio.open_tcp_stream`` tried, the class name when there is nothing else."""
    cause = error.__cause__ if isinstance(error, trio.BrokenResourceError) else None
    if isinstance(cause, BaseException):
        error = cause
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed: {error.verify_message}"
    if isinstance(error, ssl.SSLError):
        return f"TLS: {error.reason or error}"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error.__cause__, BaseExceptionGroup):  # open_tcp_stream: one per address
        reasons = dict.fromkeys(describe_error(leaf) for leaf in error.__cause__.exceptions)
        return "; ".join(reasons)
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
