"""The devices an account is signed in on (its login sessions), as the Account page lists them."""
import re
from dataclasses import dataclass
from datetime import datetime

from app.errors import NotFound
from app.extensions import db
from app.models import LoginSession
from app.security import hash_token
from app.services.common import MAX_ROW_ID


@dataclass(frozen=True)
class Device:
    id: int
    browser: str          # "Firefox on Linux"; "Unknown browser" without a User-Agent we recognise
    address: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool         # the session this request came with


# Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari", and every browser says "Mozilla".
BROWSERS = [("Edge", r"Edg(e|A|iOS)?/"), ("Opera", r"OPR/|Opera"), ("Samsung Internet", r"SamsungBrowser/"),
            ("Firefox", r"Firefox/|FxiOS/"), ("Chrome", r"Chrome/|CriOS/|Chromium/"), ("Safari", r"Safari/"),
            ("curl", r"^curl/"), ("the locker client", r"^locker/|python-requests/")]
SYSTEMS = [("Android", r"Android"), ("iOS", r"iPhone|iPad|iPod"), ("ChromeOS", r"CrOS"),
           ("Windows", r"Windows"), ("macOS", r"Mac OS X|Macintosh"), ("Linux", r"Linux|X11")]


def describe_agent(agent):
    """A User-Agent header in words: "Firefox on Linux", "Safari on iOS", "Unknown browser"."""
    agent = agent or ""
    browser = next((name for name, pattern in BROWSERS if re.search(pattern, agent)), None)
    system = next((name for name, pattern in SYSTEMS if re.search(pattern, agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return browser or f"A browser on {system}"
    return "Unknown browser"


def list_devices(user, current_token):
    rows = db.session.execute(db.select(LoginSession).filter_by(user_id=user.id).order_by(
        LoginSession.last_seen_at.desc(), LoginSession.id.desc())).scalars().all()
    current_hash = hash_token(current_token or "")
    return [Device(row.id, describe_agent(row.user_agent), row.address, row.created_at, row.last_seen_at,
                   row.token_hash == current_hash) for row in rows]


def sign_out_device(user, session_id):
    """End one of the user's sessions (another user's is as absent as a missing one); True if it was this one."""
    row = db.session.execute(db.select(LoginSession).filter_by(id=session_id, user_id=user.id)).scalar_one_or_none() \
        if 0 < session_id <= MAX_ROW_ID else None
    if row is None:
        raise NotFound("No such session: it may have ended already.", code="no_such_session")
    was_current = user.session_token is not None and row.token_hash == hash_token(user.session_token)
    db.session.delete(row)
    db.session.commit()
    return was_current


def sign_out_others(user, current_token):
    """End every session of the user's but this one; returns how many."""
    ended = db.session.execute(db.delete(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.token_hash != hash_token(current_token or ""))).rowcount
    db.session.commit()
    return ended
