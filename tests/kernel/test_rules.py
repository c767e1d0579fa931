"""Byte-exact comparison of trioaudit.rules with auditctl 3.0.9 on the live kernel.

For each corpus file (tests/data/rules/*.rules):

1. the rules are flushed, then ``auditctl -R corpus`` loads every rule with the reference
   tool, under ``strace``: each ``AUDIT_ADD_RULE`` payload auditctl sends must equal
   ``parse_rule(line).to_bytes()`` (plus libaudit's NLMSG alignment padding);
2. the kernel's blobs are read back with an independent raw netlink socket;
3. each blob must equal ``parse_rule(line).as_listed().to_bytes()`` for the
   corresponding corpus line (pairing follows the kernel's list order: by filter
   list, then insertion order, ``-A`` rules at the head). ``as_listed()`` applies
   the two normalisations the kernel makes: it drops the prepend bit and clears the
   syscall-class bits of the last bitmap word. ``to_bytes()`` itself is compared
   with what auditctl *sends* (strace), for a sample of the corpus and for
   SELinux-only fields;
4. ``render_rules(blobs)`` must equal ``auditctl -l`` line for line, and ``render_rule(rule)``
   must equal each line (except where auditctl's arch carry-over kicks in);
5. the kernel is flushed and the same rules are loaded with *our* bytes; ``auditctl -l``
   must print exactly what it printed for auditctl's own load.

Rules auditctl cannot load on this host (a watched path's parent is missing, an
unknown user) are skipped and counted; SELinux-only fields are compared against
auditctl's outgoing message in ``test_selinux_and_prepend_match_what_auditctl_sends``.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from tests.support import kernelstate
from trioaudit.rules import AuditRule, RuleSyntaxError, parse_rule, render_rule, render_rules
from trioaudit.rules import _constants as C

pytestmark = [pytest.mark.kernel, pytest.mark.peer]

DATA = pathlib.Path(__file__).parents[1] / "data" / "rules"
CORPORA = sorted(DATA.glob("*.rules"))
AUDITCTL = shutil.which("auditctl")
STRACE = shutil.which("strace")
#: Watches in the coverage corpus live here (a path with a space included).
CORPUS_DIR = pathlib.Path("/tmp/trioaudit-corpus")
#: Lists in the order the kernel dumps them (audit_list_rules walks list 0..7).
LIST_ORDER = range(8)

needs_auditctl = pytest.mark.skipif(
    AUDITCTL is None, reason="auditctl (auditd 3.0.9) not installed"
)


def _auditctl(*args: str) -> subprocess.CompletedProcess[str]:
    assert AUDITCTL is not None
    return subprocess.run([AUDITCTL, *args], capture_output=True, text=True, timeout=60)


def _unescape(line: str) -> str:
    return line.replace("\\ ", " ")


def _loadable_here(line: str) -> bool:
    """False for rules whose watched path cannot exist on this host."""
    words = line.split()
    for i, word in enumerate(words):
        target = None
        if word in ("-w", "-W") and i + 1 < len(words):
            target = words[i + 1]
        elif word == "-F" and i + 1 < len(words) and re.match(r"(path|dir)=", words[i + 1]):
            target = words[i + 1].split("=", 1)[1]
        if target is None:
            continue
        target = _unescape(target).rstrip("/") or "/"
        is_dir_field = words[i + 1].startswith("dir=") if word == "-F" else False
        needed = target if is_dir_field else os.path.dirname(target)
        if not os.path.isdir(needed):
            return False
    return True


def _corpus(path: pathlib.Path) -> tuple[list[str], list[str]]:
    """(lines to compare, lines skipped on this host)."""
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("-")]
    keep, skipped = [], []
    for line in lines:
        try:
            parse_rule(line, dialect="auditctl")
        except RuleSyntaxError:
            skipped.append(line)  # e.g. unknown user on this host: auditctl refuses it too
            continue
        (keep if _loadable_here(line) else skipped).append(line)
    return keep, skipped


def _kernel_order(rules: list[AuditRule]) -> list[AuditRule]:
    out: list[AuditRule] = []
    for lst in LIST_ORDER:
        members: list[AuditRule] = []
        for rule in rules:
            if rule.filter_list != lst:
                continue
            if rule.prepend:
                members.insert(0, rule.as_listed())
            else:
                members.append(rule.as_listed())
        out.extend(members)
    return out


def _write_rules(lines: list[str]) -> str:
    fd, name = tempfile.mkstemp(suffix=".rules")
    with os.fdopen(fd, "w") as f:
        f.write("".join(line + "\n" for line in lines))
    os.chmod(name, 0o600)
    return name


@pytest.fixture
def corpus_dir() -> pathlib.Path:
    (CORPUS_DIR / "with space").mkdir(parents=True, exist_ok=True)
    return CORPUS_DIR


#: Totals across corpora, printed by the last test for the closing note.
TOTALS = {
    "compared": 0,
    "matched": 0,
    "skipped": 0,
    "rendered": 0,
    "sent_compared": 0,
    "sent_matched": 0,
}


@needs_auditctl
@pytest.mark.parametrize("corpus", CORPORA, ids=[p.name for p in CORPORA])
def test_corpus_bytes_and_listing_match_auditctl(
    corpus: pathlib.Path,
    corpus_dir: pathlib.Path,
    audit_state: kernelstate.KernelState,
    raw_audit: kernelstate.RawAudit,
) -> None:
    lines, skipped = _corpus(corpus)
    assert len(lines) >= 100, f"{corpus.name}: corpus unexpectedly small ({len(lines)})"
    ours = _kernel_order([parse_rule(line, dialect="auditctl") for line in lines])

    raw_audit.delete_all_rules()
    rules_file = _write_rules(lines)
    try:
        if STRACE is not None:
            # What auditctl sends, message by message, in file order: to_bytes() must be it.
            sent = _sent_payloads(["-R", rules_file])
            assert len(sent) == len(lines)
            parsed = [parse_rule(line, dialect="auditctl").to_bytes() for line in lines]
            differ = [
                line
                for line, ours_bytes, theirs in zip(lines, parsed, sent, strict=True)
                if theirs != ours_bytes + b"\0" * (-len(ours_bytes) % 4)
            ]
            TOTALS["sent_compared"] += len(sent)
            TOTALS["sent_matched"] += len(sent) - len(differ)
            assert not differ, f"{len(differ)} differ from what auditctl sent: {differ[:3]}"
        else:
            loaded = _auditctl("-R", rules_file)
            assert loaded.returncode == 0, loaded.stderr
    finally:
        os.unlink(rules_file)
    blobs = raw_audit.rules()
    assert len(blobs) == len(lines)

    mismatches = [
        (i, render_rule(rule))
        for i, (rule, blob) in enumerate(zip(ours, blobs, strict=True))
        if rule.to_bytes() != blob
    ]
    TOTALS["compared"] += len(blobs)
    TOTALS["matched"] += len(blobs) - len(mismatches)
    TOTALS["skipped"] += len(skipped)
    assert not mismatches, f"{len(mismatches)} of {len(blobs)} differ, first: {mismatches[:3]}"

    listing = _auditctl("-l").stdout
    decoded = [AuditRule.from_bytes(blob) for blob in blobs]
    assert decoded == ours
    assert render_rules(decoded) == listing
    TOTALS["rendered"] += len(decoded)
    # render_rule(rule) renders each rule alone; it differs from the listing only where auditctl
    # carried a previous rule's arch over to a rule without one.
    for rule, line in zip(decoded, listing.splitlines(), strict=True):
        assert render_rule(rule) == line or rule.arch is None, line

    # Now load the very same rules with our bytes: auditctl must list the same thing.
    raw_audit.delete_all_rules()
    for rule in ours:
        raw_audit.request(kernelstate.AUDIT_ADD_RULE, rule.to_bytes())
    assert raw_audit.rules() == blobs
    assert _auditctl("-l").stdout == listing


def test_report_totals() -> None:
    """Not a check: prints the byte-for-byte totals for the closing note (run last)."""
    print(f"\nrule corpus totals: {TOTALS}")


#: strace decodes the nlmsghdr and prints the payload after it as a hex string.
#: It names the type only until it has cached the socket's protocol, then prints it in hex
#: (0x3f3 = AUDIT_ADD_RULE, 0x3f4 = AUDIT_DEL_RULE).
_SENDTO = re.compile(
    r'nlmsg_type=(?:AUDIT_(?:ADD|DEL)_RULE|0x3f[34])\b[^}]*\}, "((?:\\x[0-9a-f]{2})+)"'
)


def _sent_payloads(args: list[str]) -> list[bytes]:
    assert STRACE is not None and AUDITCTL is not None
    run = subprocess.run(
        [STRACE, "-f", "-e", "trace=sendto", "-xx", "-s", "65536", AUDITCTL, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = []
    for match in _SENDTO.finditer(run.stderr):
        out.append(bytes.fromhex(match.group(1).replace("\\x", "")))
    return out


SENT_CASES = [
    "-A always,exit -F arch=b64 -S chmod -k prepend",
    "-A exit,never -F arch=b32 -S all",
    "-a always,exit -F arch=b64 -S openat -F subj_user=system_u -k sel",
    "-a always,exit -F arch=b64 -S openat -F subj_role=system_r",
    "-a always,exit -F arch=b64 -S openat -F subj_type=unconfined_t",
    "-a always,exit -F arch=b64 -S openat -F subj_sen=s0",
    "-a always,exit -F arch=b64 -S openat -F subj_clr=s0:c0.c1023",
    "-a always,exit -F arch=b64 -S openat -F obj_user=system_u",
    "-a always,exit -F arch=b64 -S openat -F obj_role=object_r",
    "-a always,exit -F arch=b64 -S openat -F obj_type=shadow_t -F key=sel-obj",
    "-a always,exit -F arch=b64 -S openat -F obj_lev_low=s0",
    "-a always,exit -F arch=b64 -S openat -F obj_lev_high!=s15",
    "-a never,exclude -F subj_type=crond_t",
    "-a never,user -F subj_user!=root",
    "-d always,exit -F arch=b64 -S openat -F key=no-such-rule",
    "-W /etc/no-such-watch -p wa",
    "-w /etc/hosts -p wa -k sent-watch",
    "-a always,exit -F arch=b64 -S openat -F exit=-EACCES -F auid>=1000 -F auid!=unset -k x",
]


@needs_auditctl
@pytest.mark.skipif(STRACE is None, reason="strace not installed")
@pytest.mark.parametrize("line", SENT_CASES)
def test_selinux_and_prepend_match_what_auditctl_sends(
    line: str, audit_state: kernelstate.KernelState
) -> None:
    """Fields the kernel refuses here (no SELinux) and flags it never lists: compare sendto()."""
    sent = _sent_payloads(line.split())
    assert len(sent) >= 1, "auditctl sent no rule"
    rule = parse_rule(line)
    ours = rule.to_bytes()
    # libaudit sends NLMSG_SPACE(len): the payload padded with NULs to 4 bytes.
    assert sent[0] == ours + b"\0" * (-len(ours) % 4)
    if line.startswith("-A"):
        assert rule.flags & C.FILTER_PREPEND


#: Rules auditctl 3.0.9 cannot express (io_uring list, loginuid_set, other arches) or whose
#: effect only shows in ordering (-A): loaded with our bytes, read back from the kernel.
OURS_ONLY = [
    "-a always,exit -F arch=b64 -S chown -k ours-post",
    "-A always,exit -F arch=b64 -S chmod -k ours-pre",
    "-a always,io_uring -S sendmsg,openat -k ours-uring",
    "-a never,io_uring -S all -F uid=0",
    "-a always,exit -F arch=b64 -S execve -F loginuid_set=0 -k ours-lset",
    "-a always,exit -F arch=riscv64 -S openat -k ours-rv64",
    "-a always,exit -F arch=aarch64 -S openat -k ours-a64",
    "-a always,exit -F arch=ppc64le -S openat -k ours-ppc",
    "-a always,exit -F arch=s390x -S openat -k ours-s390x",
]


def test_rules_only_we_can_write_round_trip_through_the_kernel(
    audit_state: kernelstate.KernelState, raw_audit: kernelstate.RawAudit
) -> None:
    rules = [parse_rule(text) for text in OURS_ONLY]
    raw_audit.delete_all_rules()
    for rule in rules:
        raw_audit.request(kernelstate.AUDIT_ADD_RULE, rule.to_bytes())
    listed = [AuditRule.from_bytes(blob) for blob in raw_audit.rules()]
    assert listed == _kernel_order(rules)
    assert listed[0].keys == ("ours-pre",)  # -A really prepends
    # A delete carrying the prepend bit matches nothing (the kernel compares flags and
    # does not keep the bit), so deletes are sent without it, as auditctl -d does.
    with pytest.raises(FileNotFoundError):
        raw_audit.request(kernelstate.AUDIT_DEL_RULE, rules[1].to_bytes())
    for rule in rules:
        raw_audit.request(kernelstate.AUDIT_DEL_RULE, rule.without_prepend().to_bytes())
    assert raw_audit.rules() == []
