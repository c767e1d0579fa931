"""The records layer: audit record text in, interpreted events out, with no I/O.

Data flows one way through these modules:

``values``       the grammar of a record's text: splitting ``name=value`` pairs,
                 unquoting and hex-decoding values, record-type names;
``interpret``    what ``ausearch -i`` shows for each field (one printer table);
``model``        the public :class:`AuditRecord` / :class:`AuditEvent` values;
``parse``        kernel payloads and audit.log lines -> :class:`AuditRecord`;
``reassembly``   records -> :class:`AuditEvent` (EOE, single-record types, timeouts);
``logread``      audit.log files (plain or gzip) through the same parser.

A new field interpretation goes into ``interpret`` (its printer and its row in
the printer table); a new record grammar quirk into ``values`` or ``parse``.
Nothing in this package imports trio, and import-linter enforces it.
"""
