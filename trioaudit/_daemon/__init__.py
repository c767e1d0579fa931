"""The daemon layer: ``trioaudit daemon``'s long-running parts, on trio.

``senders``  the contract every network destination keeps (:class:`Sender`);
``syslog``   syslog over UDP, TCP and TLS (RFC 5424, octet counting), reconnecting;
``relp``     rsyslog's RELP on trio's sockets (optionally TLS), acknowledged;
``outputs``  one bounded queue per output, the disk spool, replay and counted drops;
``metrics``  the Prometheus ``/metrics`` responder;
``notify``   systemd's ``sd_notify``;
``service``  the daemon itself: the audit client, rules, status, signals, outputs.

It sits between the front ends (:mod:`trioaudit.cli`) and the trio layer
(:mod:`trioaudit._trio`); its sans-IO halves (message formats, the RELP codec, the
spool's file format, the exposition text) live in :mod:`trioaudit._output`, where
they are tested byte for byte.
"""
