"""A stand-in audit daemon for tests: registers its own pid, then drains records.

Run as ``python tests/support/daemon_holder.py``; prints ``ready`` once registered and
keeps reading until killed. It never unregisters (a killed daemon does not);
the ``audit_state`` fixture releases a dead holder.
"""

import os
import socket
import struct
import sys

sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 9)
sock.bind((0, 0))
status = struct.pack("=11I", 4, 0, 0, os.getpid(), 0, 0, 0, 0, 0, 0, 0)
sock.send(struct.pack("=IHHII", 16 + len(status), 1001, 5, 1, 0) + status)
reply = sock.recv(65536)
(error,) = struct.unpack_from("=i", reply, 16)
if error:
    print(f"failed {error}", flush=True)
    sys.exit(1)
print("ready", flush=True)
while True:
    sock.recv(65536)
