"""A stand-in audit daemon for tests: registers its own pid, then drains records.

Run as ``python tests/support/daemon_holder.py``; prints ``ready`` once registered and
keeps reading until killed. It never unregisters (a killed daemon does not);
the ``audit_state`` fixture releases a dead holder. It speaks netlink without
trioaudit, with the structs of its sibling kernelstate.py (run as a script, this
directory is first on ``sys.path``).
"""

import os
import socket
import struct
import sys

from kernelstate import AUDIT_SET, HEADER, MASK_PID, NETLINK_AUDIT, STATUS

sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_AUDIT)
sock.bind((0, 0))
status = STATUS.pack(MASK_PID, 0, 0, os.getpid(), 0, 0, 0, 0, 0, 0, 0)
sock.send(HEADER.pack(HEADER.size + len(status), AUDIT_SET, 5, 1, 0) + status)
reply = sock.recv(65536)
(error,) = struct.unpack_from("=i", reply, 16)
if error:
    print(f"failed {error}", flush=True)
    sys.exit(1)
print("ready", flush=True)
while True:
    sock.recv(65536)
