"""The output layer: what users see of events -- the filter language and the formats.

``filter``   the ``--filter`` / ``/`` expression language, compiled to a predicate;
``formats``  JSON lines, ``records`` and ``text`` renderings, control characters
             neutralised.

It calls down into :mod:`trioaudit._records` (the model, interpretation, the text
grammar) and nothing below calls back up into it; it never reaches into the wire or
trio layers. A new output field or format goes here.
"""
