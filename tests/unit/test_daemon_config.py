"""The daemon's settings: the TOML file, the flags over it, and errors that name the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trioaudit._daemon.config import DaemonConfig, load_config, parse_output_url
from trioaudit._errors import AuditUsageError

EXAMPLE = Path(__file__).parents[2] / "examples" / "daemon.toml"


def _load(tmp_path: Path, text: str, **flags: object) -> DaemonConfig:
    path = tmp_path / "daemon.toml"
    path.write_text(text)
    return load_config(str(path), flags)


def test_defaults_without_a_file_are_auditds() -> None:
    config = load_config(None, {})
    assert config.log.file == "/var/log/audit/audit.log"
    assert (config.log.format, config.log.max_log_file, config.log.num_logs) == ("enriched", 8, 5)
    assert config.outputs == () and config.metrics_listen == "" and config.rules == ""
    assert config.status.enabled is None  # the kernel's settings are left alone


def test_the_example_config_loads_as_documented() -> None:
    config = load_config(str(EXAMPLE), {})
    assert config.status.enabled == 1 and config.status.backlog_limit == 8192
    kinds = [(o.kind, o.format) for o in config.outputs]
    assert kinds == [("jsonl", "json"), ("relp", "json")]
    assert config.outputs[0].path == "/var/log/trioaudit/events.jsonl"
    assert config.outputs[0].normalize is True
    assert config.outputs[1].ca == "/etc/trioaudit/ca.pem"


def test_flags_win_over_the_file_and_outputs_add_up(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        'rules = "/a"\n[log]\nnum_logs = 3\nformat = "raw"\n'
        '[[output]]\nurl = "stdout"\nformat = "raw"\n',
        rules="/b",
        **{"log.num_logs": 9, "status.rate_limit": 100},
        outputs=["syslog+tcp://127.0.0.1:514?format=enriched&filter=type%3DEXECVE"],
    )
    assert (config.rules, config.log.num_logs, config.log.format) == ("/b", 9, "raw")
    assert config.status.rate_limit == 100
    stdout, syslog = config.outputs
    assert (stdout.kind, stdout.format) == ("stdout", "raw")
    assert (syslog.kind, syslog.name, syslog.format) == (
        "syslog",
        "syslog+tcp://127.0.0.1:514",
        "enriched",
    )
    assert syslog.filter == "type=EXECVE"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("log_fil = 'x'\n", "log_fil: unknown setting"),
        ("[log]\nnum_log = 3\n", "log.num_log: unknown setting"),
        ("[log]\nmax_log_file = 'big'\n", "log.max_log_file: must be an integer"),
        ("[log]\nnum_logs = -1\n", "log.num_logs: cannot be negative"),
        ("[log]\nformat = 'json'\n", "log.format: must be one of raw, enriched"),
        ("[status]\nfailure = 2\n", "status.failure: 2 panics the machine"),
        ("[status]\nenabled = 2\n", "status.enabled: 2 locks audit until reboot"),
        ("[status]\nenabled = 7\n", "status.enabled: must be 0, 1 or 2"),
        ("[status]\nrate_limit = true\n", "status.rate_limit: must be int"),
        ("drain_timeout = nan\n", "drain_timeout: must be a finite number"),
        ("status = 3\n", "status: must be a table"),
        ("output = 3\n", "output: must be an array of tables"),
        ("[[output]]\nformat = 'json'\n", "output[0].url: missing"),
        ("[[output]]\nurl = 'ftp://x'\n", "output[0].url: 'ftp://x' is not"),
        ("[[output]]\nurl = 'stdout'\nformat = 'xml'\n", "output[0].format: must be one of"),
        ("[[output]]\nurl = 'stdout'\nformat='raw'\nnormalize=true\n", "normalize: needs format"),
        ("[[output]]\nurl = 'stdout'\nwindoww = 3\n", "output[0].windoww: unknown setting"),
        ("[[output]]\nurl = 'jsonl:'\n", "jsonl: needs a path"),
        ("[[output]]\nurl = 'stdout'\n[[output]]\nurl = 'stdout?format=raw'\n", "given twice"),
        ("[log]\nfile = '/x/a.log'\n[[output]]\nurl = 'jsonl:/x/a.log'\n", "is also log.file"),
        ("[[output]]\nurl = 'stdout?verify=maybe'\n", "verify: must be true or false"),
        ("[[output]]\nurl = 'stdout?colour=red'\n", "unknown setting 'colour' after '?'"),
        ("this is not toml\n", "daemon.toml"),
    ],
)
def test_errors_name_the_setting(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AuditUsageError, match=message.replace("[", r"\[").replace("?", r"\?")):
        _load(tmp_path, text)


def test_irreversible_status_needs_allow_irreversible(tmp_path: Path) -> None:
    config = _load(tmp_path, "allow_irreversible = true\n[status]\nfailure = 2\n")
    assert config.status.failure == 2  # allowed, never applied by the tests


def test_an_unreadable_config_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(AuditUsageError, match="No such file"):
        load_config(str(tmp_path / "missing.toml"), {})


def test_output_urls() -> None:
    assert parse_output_url("stdout").format == "json"
    jsonl = parse_output_url("jsonl:/var/log/x.jsonl?max_file=2&num_files=3&format=raw")
    assert (jsonl.path, jsonl.max_file, jsonl.num_files, jsonl.format) == (
        "/var/log/x.jsonl",
        2,
        3,
        "raw",
    )
    relp = parse_output_url("relp+tls://[::1]:2514?ca=/c.pem&window=16&verify=false")
    assert (relp.kind, relp.name, relp.ca, relp.window, relp.verify) == (
        "relp",
        "relp+tls://[::1]:2514",
        "/c.pem",
        16,
        False,
    )
    with pytest.raises(AuditUsageError, match="jsonl:/path"):
        parse_output_url("jsonl:///x")


def test_check_prints_the_resolved_settings_and_touches_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from trioaudit.cli.main import main

    assert (
        main(["daemon", "--config", str(EXAMPLE), "--check", "--rules", "/", "--num-logs", "2"])
        == 0
    )
    shown = json.loads(capsys.readouterr().out)
    assert shown["log"]["num_logs"] == 2 and shown["rules"] == "/"
    assert [o["kind"] for o in shown["outputs"]] == ["jsonl", "relp"]
    assert main(["daemon", "--check", "--output", "gopher://x"]) == 2
    assert "--output[0].url: 'gopher://x' is not" in capsys.readouterr().err
    assert main(["daemon", "--check", "--rules", "/nonexistent/rules.d"]) == 2
    assert "rules: /nonexistent/rules.d does not exist" in capsys.readouterr().err
