"""The output layer: what users see of events -- the filter language and the formats --
and the sans-IO halves of the daemon's outputs.

``filter``     the ``--filter`` / ``/`` expression language, compiled to a predicate;
``formats``    JSON lines, ``records`` and ``text`` renderings, control characters
               neutralised;
``auditlog``   audit.log lines in auditd's RAW and ENRICHED formats, rotated as auditd;
``messages``   a daemon output's messages: one per record (raw, enriched) or event (json);
``syslog``     RFC 5424 messages, octet counting, ``syslog+...://`` targets;
``relp``       the RELP codec and client session, ``relp://`` targets;
``endpoints``  the URL and TLS-option parsing both transports share;
``spool``      the daemon's bounded, persistent, CRC-checked disk spool;
``metrics``    the Prometheus text exposition.

It calls down into :mod:`trioaudit._records` (the model, interpretation, the text
grammar) and nothing below calls back up into it; it never reaches into the wire or
trio layers (its files are written with plain synchronous I/O). A new output field or
format, or a wire format of an output, goes here.
"""
