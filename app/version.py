"""Locker's version: pyproject.toml's, the one the admin area shows and backups record."""
import tomllib
from functools import cache
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@cache
def locker_version():
    """Read once; "unknown" when pyproject.toml is missing or unreadable (e.g. a copy without it)."""
    try:
        return tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"
