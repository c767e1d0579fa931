"""Walk an audit log with libauparse, interpreting every field (the parse baseline).

Run by Debian's ``/usr/bin/python3`` (the only interpreter with the
``python3-audit`` bindings), not the project's venv. Prints
``events=<n> records=<n> fields=<n>``.

usage: /usr/bin/python3 auparse_walk.py FILE
"""

import sys

import auparse


def walk(path):
    parser = auparse.AuParser(auparse.AUSOURCE_FILE, path)
    events = records = fields = 0
    while parser.parse_next_event():
        events += 1
        parser.first_record()
        while True:
            records += 1
            parser.first_field()
            while True:
                parser.interpret_field()
                fields += 1
                if not parser.next_field():
                    break
            if not parser.next_record():
                break
    return events, records, fields


if __name__ == "__main__":
    events, records, fields = walk(sys.argv[1])
    print(f"events={events} records={records} fields={fields}")
