"""deploy/systemd/: the units pass systemd's own checker, run Locker as a non-root user with hardening,
and schedule the housekeeping commands."""
import configparser
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
INSTALLED_AT = "/opt/locker"
# Every service gets all of it: a housekeeping command reads the same database and store as the server.
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ReadWritePaths": f"{INSTALLED_AT}/instance",
             "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectHome": "yes", "ProtectKernelTunables": "yes",
             "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
             "ProtectClock": "yes", "ProtectHostname": "yes", "ProtectProc": "invisible", "RestrictNamespaces": "yes",
             "RestrictRealtime": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes", "RemoveIPC": "yes",
             "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "SystemCallArchitectures": "native",
             "SystemCallFilter": "@system-service", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
             "UMask": "0027"}
HOUSEKEEPING = {"sweep": ["sweep"], "retry-deletes": ["retry-deletes"], "verify": ["verify", "--all"]}


def read_unit(path):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    parser.read_string(path.read_text())
    return parser


def test_systemd_analyze_finds_nothing_wrong(tmp_path):
    """Checked where they would be installed: this checkout stands in for /opt/locker, so every command exists."""
    (tmp_path / "locker.env").write_text("")
    for unit in UNITS.iterdir():
        text = unit.read_text().replace(INSTALLED_AT, str(ROOT)).replace("/etc/locker/locker.env",
                                                                          str(tmp_path / "locker.env"))
        (tmp_path / unit.name).write_text(text)
    names = sorted(unit.name for unit in UNITS.iterdir())
    checked = subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr


def test_locker_runs_as_its_own_user_hardened_and_reloads_gracefully():
    service = read_unit(UNITS / "locker.service")["Service"]
    assert service["User"] == "locker" and service["Group"] == "locker"
    assert service["EnvironmentFile"] == "/etc/locker/locker.env"
    assert service["ExecReload"] == "/bin/kill -s HUP $MAINPID"
    assert shlex.split(service["ExecStart"])[1:] == ["--config", "gunicorn.conf.py", "wsgi:app"]


@pytest.mark.parametrize("task, arguments", HOUSEKEEPING.items())
def test_each_housekeeping_command_has_a_hardened_service_and_a_persistent_timer(task, arguments):
    service = read_unit(UNITS / f"locker-{task}.service")["Service"]
    assert service["Type"] == "oneshot" and service["User"] == "locker"
    assert shlex.split(service["ExecStart"]) == [f"{INSTALLED_AT}/.venv/bin/flask", "--app", "wsgi", "locker",
                                                 *arguments]
    timer = read_unit(UNITS / f"locker-{task}.timer")
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.parametrize("unit", sorted(path.name for path in UNITS.glob("*.service")))
def test_every_service_has_the_whole_hardening_set(unit):
    service = read_unit(UNITS / unit)["Service"]
    assert {key: service.get(key) for key in HARDENING} == HARDENING
