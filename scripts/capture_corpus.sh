#!/bin/bash
# Capture a small, real audit.log corpus from this machine's kernel for trioaudit's tests.
#
# Usage: scripts/capture_corpus.sh OUTPUT.log   (as root, with no audit daemon running)
#
# What it does, and how it leaves the kernel:
#   1. refuses to run if an audit daemon is registered (pid != 0) or rules are loaded;
#   2. starts Debian's auditd in the foreground (-n) with its own config directory
#      (ENRICHED log format, log file in a temporary directory; no augenrules, so
#      /etc/audit/rules.d is NOT loaded);
#   3. loads a handful of rules scoped to uid 65534 (nobody) plus a file watch;
#   4. runs a bounded workload as nobody: execve, openat failures (EACCES/ENOENT),
#      connect/bind over inet, inet6, unix and netlink, chmod, rename, unlink, kill,
#      a process whose name carries an ANSI escape sequence, a file with a space
#      in its name, an argument long enough to be split across EXECVE fields,
#      failed setuid/setgid/chown/mount, access, mkdir/symlink/link, fcntl, prctl,
#      AF_PACKET/AF_INET6 sockets, and a user message (auditctl -m, as root);
#   5. deletes the rules, stops auditd, restores enabled to its previous value and
#      checks that pid is 0 again; copies the log to OUTPUT.log.
set -euo pipefail

out=${1:?usage: capture_corpus.sh OUTPUT.log}
status=$(auditctl -s)
pid=$(awk '$1=="pid"{print $2}' <<<"$status")
enabled=$(awk '$1=="enabled"{print $2}' <<<"$status")
if [ "$pid" != 0 ]; then echo "audit daemon pid $pid registered; refusing" >&2; exit 1; fi
if [ "$enabled" = 2 ]; then echo "audit is immutable; refusing" >&2; exit 1; fi
if [ "$(auditctl -l)" != "No rules" ]; then echo "rules are loaded; refusing" >&2; exit 1; fi

tmp=$(mktemp -d /tmp/trioaudit-capture.XXXXXX)
work=$tmp/work
chmod 0755 "$tmp"
mkdir -p "$tmp/conf" "$tmp/log" "$work"
chown nobody:nogroup "$work"
cat >"$tmp/conf/auditd.conf" <<CONF
local_events = yes
write_logs = yes
log_file = $tmp/log/audit.log
log_group = root
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 64
num_logs = 2
priority_boost = 0
name_format = NONE
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
use_libwrap = no
tcp_listen_queue = 5
tcp_max_per_addr = 1
tcp_client_max_idle = 0
transport = TCP
distribute_network = no
q_depth = 2000
overflow_action = IGNORE
max_restarts = 0
plugin_dir = $tmp/conf/plugins.d
end_of_event_timeout = 2
CONF
mkdir -p "$tmp/conf/plugins.d"
chmod 0640 "$tmp/conf/auditd.conf"

cleanup() {
    auditctl -D >/dev/null 2>&1 || true
    if [ -n "${daemon:-}" ] && kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon"
        for _ in $(seq 50); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
    fi
    auditctl -e "$enabled" >/dev/null 2>&1 || true
}
trap cleanup EXIT

auditd -n -c "$tmp/conf" &
daemon=$!
for _ in $(seq 50); do
    [ "$(auditctl -s | awk '$1=="pid"{print $2}')" = "$daemon" ] && break
    sleep 0.1
done
auditctl -e 1 >/dev/null

U="-F uid=65534"
auditctl -a always,exit -F arch=b64 -S execve $U -k exec >/dev/null
auditctl -a always,exit -F arch=b64 -S open,openat -F exit=-EACCES $U -k openfail >/dev/null
auditctl -a always,exit -F arch=b64 -S open,openat -F exit=-ENOENT $U -F dir="$work" -k openfail >/dev/null
auditctl -a always,exit -F arch=b64 -S connect,bind,socket $U -k net >/dev/null
auditctl -a always,exit -F arch=b64 -S chmod,fchmodat,fchmod $U -k perm >/dev/null
auditctl -a always,exit -F arch=b64 -S rename,renameat,renameat2,unlink,unlinkat $U -k delete >/dev/null
auditctl -a always,exit -F arch=b64 -S kill,tgkill $U -k signal >/dev/null
auditctl -a always,exit -F arch=b64 -S mmap,mprotect,clone $U -F exe=/usr/bin/python3.11 -k memory >/dev/null
auditctl -a always,exit -F arch=b64 -S setuid,setgid,setresuid,setresgid,prctl,mount $U -k privilege >/dev/null
auditctl -a always,exit -F arch=b64 -S access,faccessat,mkdir,mkdirat,symlink,symlinkat,link,linkat $U -k fs >/dev/null
auditctl -a always,exit -F arch=b64 -S chown,fchown,fchownat,lchown,fcntl $U -k owner >/dev/null
auditctl -w "$work/watched" -p wa -k watched >/dev/null

esc_name=$'ev\e[31mil'
cp /bin/true "$work/$esc_name"
chmod 755 "$work/$esc_name"
setpriv --reuid=65534 --regid=65534 --clear-groups -- env -i PATH=/usr/bin:/bin HOME="$work" \
    /usr/bin/python3.11 - "$work" "$esc_name" <<'PY'
import os, socket, subprocess, sys
work, esc = sys.argv[1], sys.argv[2]
os.chdir(work)
for path in ("/etc/shadow", "/root/.bashrc", work + "/missing"):
    try:
        open(path).close()
    except OSError:
        pass
for family, addr in ((socket.AF_INET, ("127.0.0.1", 9)), (socket.AF_INET6, ("::1", 9, 0, 0))):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.connect(addr)
    except OSError:
        pass
    s.close()
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
u.bind(work + "/sock")
u.close()
n = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
n.bind((0, 0))
n.close()
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
d.bind(("127.0.0.1", 0))
d.close()
with open("watched", "w") as f:
    f.write("x")
os.chmod("watched", 0o640)
os.rename("watched", "renamed file")
os.unlink("renamed file")
os.mkfifo("fifo")
os.chmod("fifo", 0o600)
subprocess.run(["/bin/echo", "hello", "two words", "quote\"d"], stdout=subprocess.DEVNULL)
subprocess.run(["./" + esc])
subprocess.run(["/bin/ls", "/root"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
p = subprocess.Popen(["/bin/sleep", "5"])
os.kill(p.pid, 0)
os.kill(p.pid, 15)
p.wait()
# A long argument: the kernel splits it into a1_len/a1[0]/a1[1]... EXECVE fields.
subprocess.run(["/bin/true", "x" * 9000, "short"])
for call in (lambda: os.setuid(0), lambda: os.setgid(0), lambda: os.setresuid(0, 0, 0),
             lambda: os.chown("fifo", 0, 0), lambda: os.lchown("fifo", 65534, 0)):
    try:
        call()
    except OSError:
        pass
os.access("/etc/shadow", os.R_OK | os.W_OK)
os.access(work, os.F_OK)
os.mkdir("dir", 0o750)
os.symlink("dir", "link")
os.link("fifo", "hardlink")
fd = os.open("created", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
import fcntl
fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
fcntl.fcntl(fd, fcntl.F_GETFL)
os.close(fd)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(15, b"renamed\x1bX", 0, 0, 0)  # PR_SET_NAME with an escape byte
libc.mount(b"none", b"dir", b"tmpfs", 0x1 | 0x2 | 0x8, None)  # EPERM as nobody
for family, kind in ((socket.AF_PACKET, socket.SOCK_RAW), (socket.AF_INET6, socket.SOCK_DGRAM)):
    try:
        socket.socket(family, kind).close()
    except OSError:
        pass
PY
auditctl -m "trioaudit corpus capture message" >/dev/null
sleep 0.5
auditctl -D >/dev/null
auditctl -e "$enabled" >/dev/null
kill -TERM "$daemon"
wait "$daemon" || true
daemon=
cp "$tmp/log/audit.log" "$out"
rm -rf "$tmp"
final_pid=$(auditctl -s | awk '$1=="pid"{print $2}')
echo "captured $(wc -l <"$out") lines into $out (audit pid now $final_pid)" >&2
