"""The trio layer: the only place in the library that does I/O.

``transport``    the ``AF_NETLINK`` socket behind the :class:`Transport` protocol
                 the client is written against;
``client``       :func:`open_audit_client` / :class:`AuditClient`;
``batching``     the receive channel ``records()`` / ``events()`` hand out;
``eventstream``  kernel records -> parsed, reassembled events, as a task;
``signals``      SIGINT, SIGTERM and SIGHUP as one cancel-and-clean-up path for
                 the front ends.

Everything below this package is sans-IO; the front ends (``cli``, ``tui``) sit
above it.
"""
