"""The wire layer: the kernel's ``NETLINK_AUDIT`` protocol as bytes, with no I/O.

Everything that turns a request into the bytes the kernel reads, or a datagram
the kernel sent into a message, lives here: netlink framing (``netlink``),
request/reply matching by sequence number (``protocol``), ``struct
audit_status`` and ``AUDIT_SET`` payloads (``status``), and the smaller control
payloads -- features, signal info, TTY auditing, user messages (``control``).

A new netlink request starts here: its payload codec in ``control`` (or a module
of its own), then a method on the client in :mod:`trioaudit._trio.client`.
Nothing in this package imports trio, and import-linter enforces it.
"""
