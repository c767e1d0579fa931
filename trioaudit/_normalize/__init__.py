"""Normalised events: go-libaudit ``aucoalesce``'s summary of an event, sans-IO.

``normalize(event)`` gives the members aucoalesce adds to an event -- its category,
result, session, tags, a summary (who did what to which object, how), the user ids,
the process, the file, the source and destination addresses, the network direction
and the ECS categorisation -- with aucoalesce's names and values (docs/normalize.md).

``data``      a record's fields as go-libaudit's auparse reads them;
``coalesce``  one event's records -> the normalised members, through the table
              generated from aucoalesce's normalizations.yaml (``_tables``).
"""

from .coalesce import MEMBERS, normalize, resolve_ids

__all__ = ["MEMBERS", "normalize", "resolve_ids"]
