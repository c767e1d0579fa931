"""Exit codes of the ``trioaudit`` command, documented in README's CLI reference.

They follow ``sysexits.h`` where one fits, so scripts can tell "not root"
from "kernel said no" from "you typed it wrong".
"""

from __future__ import annotations

#: Success.
OK = 0
#: The kernel refused the request (an errno other than EPERM), or another runtime failure.
FAILURE = 1
#: Bad command line or a refused dangerous setting (argparse uses 2 as well).
USAGE = 2
#: Another process is the audit daemon and unicast was required (``EX_UNAVAILABLE``).
DAEMON_RUNNING = 69
#: Not permitted: not root / missing CAP_AUDIT_CONTROL or CAP_AUDIT_READ (``EX_NOPERM``).
NO_PERMISSION = 77
#: Interrupted by Ctrl-C (128 + SIGINT). Commands that take SIGINT, SIGTERM and SIGHUP
#: over (``tail``, ``status --watch``) exit with 128 + whichever of them stopped them.
INTERRUPTED = 130
#: Standard output was closed by the reader (``| head``): we stop quietly (128 + SIGPIPE).
BROKEN_PIPE = 141
