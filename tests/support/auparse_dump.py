"""Dump libauparse's interpretation of every field of an audit.log, as JSON lines.

Run with Debian's /usr/bin/python3 (the only interpreter that can import the
``auparse`` bindings of python3-audit):

    /usr/bin/python3 tests/support/auparse_dump.py FILE

One JSON object per record: {"sec", "milli", "serial", "type", "fields": [[name,
interpreted], ...]} in libauparse's order (its ``type``/``node`` pseudo-fields
left out). A field whose interpretation libauparse cannot return as text is
given as null.
"""

import json
import sys

import auparse


def main(path):
    au = auparse.AuParser(auparse.AUSOURCE_FILE, path)
    out = sys.stdout
    while au.parse_next_event():
        stamp = au.get_timestamp()
        au.first_record()
        while True:
            fields = []
            if au.first_field():
                while True:
                    name = au.get_field_name()
                    if name not in ("type", "node"):
                        try:
                            value = au.interpret_field()
                        except Exception:
                            value = None
                        fields.append([name, value])
                    if not au.next_field():
                        break
            try:
                type_name = au.get_type_name()
            except LookupError:
                type_name = f"UNKNOWN[{au.get_type()}]"
            record = {
                "sec": stamp.sec,
                "milli": stamp.milli,
                "serial": stamp.serial,
                "type": type_name,
                "fields": fields,
            }
            out.write(json.dumps(record) + "\n")
            if not au.next_record():
                break


if __name__ == "__main__":
    main(sys.argv[1])
