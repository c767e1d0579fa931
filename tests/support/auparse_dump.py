"""Dump libauparse's interpretation of every field of an audit.log, as JSON lines.

Run with Debian's /usr/bin/python3 (the only interpreter that can import the
``auparse`` bindings of python3-audit):

    /usr/bin/python3 tests/support/auparse_dump.py FILE

One JSON object per record: {"node", "sec", "milli", "serial", "type", "fields",
"text"}. ``fields`` is [[name, interpreted], ...] in libauparse's order, without the
record's own leading ``type=`` and its ``node=`` (a later ``type=`` is a field); a field
whose interpretation libauparse cannot return as text is null. ``node`` is the
``node=`` prefix or null, ``text`` the record's text as libauparse holds it.
"""

import json
import sys

import auparse


def _type_name(au):
    """The record's type name; libauparse raises for types it cannot name (and for
    ``get_type`` on records it could not classify), so fall back to the logged text."""
    try:
        return au.get_type_name()
    except LookupError:
        pass
    try:
        return f"UNKNOWN[{au.get_type()}]"
    except LookupError:
        pass
    text = au.get_record_text() or ""
    for token in text.split():
        if token.startswith("type="):
            return token[5:]
    return "UNKNOWN"


def main(path):
    au = auparse.AuParser(auparse.AUSOURCE_FILE, path)
    out = sys.stdout
    while au.parse_next_event():
        stamp = au.get_timestamp()
        au.first_record()
        while True:
            fields = []
            node = None
            seen_type = False
            if au.first_field():
                while True:
                    name = au.get_field_name()
                    if name == "node":
                        node = node or au.get_field_str()
                    elif name == "type" and not seen_type:
                        seen_type = True  # the record's own type (a later ``type=`` is a field)
                    else:
                        try:
                            value = au.interpret_field()
                        except Exception:
                            value = None
                        fields.append([name, value])
                    if not au.next_field():
                        break
            type_name = _type_name(au)
            record = {
                "node": node,
                "sec": stamp.sec,
                "milli": stamp.milli,
                "serial": stamp.serial,
                "type": type_name,
                "fields": fields,
                "text": au.get_record_text(),
            }
            out.write(json.dumps(record) + "\n")
            if not au.next_record():
                break


if __name__ == "__main__":
    main(sys.argv[1])
