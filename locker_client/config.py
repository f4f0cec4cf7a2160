"""Where the ``locker`` command keeps its login: one JSON file, mode 0600.

``$LOCKER_CONFIG_DIR/config.json`` when that variable is set, else
platformdirs' user config dir (``~/.config/locker/config.json`` on Linux,
``~/Library/Application Support/locker`` on macOS, ``%APPDATA%\\locker`` on
Windows). ``LOCKER_URL`` and ``LOCKER_TOKEN`` override what is stored.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from locker_client.client import normalize_url
from locker_client.errors import LockerError
from locker_client.state import write_private_json

CONFIG_DIR_ENV = "LOCKER_CONFIG_DIR"
URL_ENV = "LOCKER_URL"
TOKEN_ENV = "LOCKER_TOKEN"


def config_dir() -> Path:
    configured = os.environ.get(CONFIG_DIR_ENV)
    return Path(configured) if configured else Path(platformdirs.user_config_dir("locker"))


def config_path() -> Path:
    return config_dir() / "config.json"


@dataclass(frozen=True)
class Login:
    """The server and token to use, and where each came from ("env" or the config file)."""

    url: str | None
    token: str | None
    username: str | None = None
    url_source: str = "config"
    token_source: str = "config"


def load_stored() -> dict[str, Any]:
    """What `locker login` stored, or {} (also for an unreadable file)."""
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def current_login() -> Login:
    """The stored login with LOCKER_URL / LOCKER_TOKEN applied on top.

    The stored token is only ever sent to the server it was made for: with
    LOCKER_URL naming another server, LOCKER_TOKEN must be set too.
    """
    stored = load_stored()
    url_env, token_env = os.environ.get(URL_ENV), os.environ.get(TOKEN_ENV)
    url = url_env or stored.get("url")
    stored_token = stored.get("token") if same_server(stored.get("url"), url) else None
    return Login(url=url, token=token_env or stored_token,
                 username=None if token_env else stored.get("username"),
                 url_source="env" if url_env else "config", token_source="env" if token_env else "config")


def same_server(first: str | None, second: str | None) -> bool:
    """True when both addresses name one Locker (the token stored for one is sent only to it)."""
    if not first or not second:
        return False
    try:
        return normalize_url(first) == normalize_url(second)
    except LockerError:
        return False


def store(url: str, token: str, username: str) -> Path:
    """Save a login atomically; the file is created with mode 0600 (its folder 0700)."""
    target = config_path()
    write_private_json(config_dir(), target, {"url": url, "token": token, "username": username})
    return target


def forget() -> bool:
    """Delete the stored login; False when there was none."""
    try:
        config_path().unlink()
    except FileNotFoundError:
        return False
    return True
