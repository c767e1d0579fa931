"""The trio layer: the only place in the library that does I/O.

``transport``    the ``AF_NETLINK`` socket behind the :class:`Transport` protocol
                 the client is written against;
``client``       :func:`open_audit_client` / :class:`AuditClient`;
``batching``     the batch-draining receive channel under the streams;
``streams``      :class:`RecordStream` / :class:`EventStream`, what ``records()`` /
                 ``open_events()`` hand out, with their ``statistics()``;
``eventstream``  kernel records -> parsed, reassembled events, as a task.
``signals``      SIGINT, SIGTERM and SIGHUP as one cancel-and-clean-up path for
                 the front ends.

Everything below this package is sans-IO; the front ends (``cli``, ``tui``) sit
above it.
"""
