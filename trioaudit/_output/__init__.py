"""The output layer: what users see of events -- the filter language and the formats.

``filter``   the ``--filter`` / ``/`` expression language, compiled to a predicate;
``formats``  JSON lines, ``records`` and ``text`` renderings, control characters
             neutralised.

It reads :mod:`trioaudit._records.parse` and never reaches back into the wire or trio
layers; a new output field or format goes here.
"""
