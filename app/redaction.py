"""What never leaves Locker in a log line or an error report: tokens, passwords, signed URLs.

One set of rules, used by the JSON logs, the gunicorn access log and the error-tracking hook.
A signed URL's power is in its query string (X-Amz-Signature, local storage's `sig`), a link's
in its path (/s/<token>), a session's in headers (Authorization, Cookie), an address's
password in its userinfo; each is replaced by REDACTED, keeping enough to tell what it was.
"""
import re

REDACTED = "[redacted]"
# Paths whose next segment is a secret: share and upload-request links, invitations, resets, setup links.
TOKEN_PATH = re.compile(r"/(s|r|invite|reset|setup)/[^/?#\s\"']+")
# A query string goes whole: any parameter of a signed URL is worthless without the others,
# and none of Locker's own says anything a log needs.
QUERY = re.compile(r"\?[^\s\"'<>]+")
USERINFO_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s\"']*):[^@/\s\"']*@", re.IGNORECASE)
CREDENTIALS = re.compile(r"\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization", "x-csrftoken", "x-csrf-token"}
# Keys whose values are secrets wherever they appear (form fields, JSON bodies, config, local variables).
SECRET_KEY = re.compile(r"pass|secret|token|sig|auth|cookie|session|credential|csrf|key", re.IGNORECASE)


def redact_path(path):
    """A URL path with its secret segments replaced; its query string, if any, dropped."""
    return TOKEN_PATH.sub(lambda match: f"/{match.group(1)}/{REDACTED}", QUERY.sub("", path))


def redact_text(text):
    """Free text (a log message, an exception) with every secret the rules recognise replaced."""
    text = USERINFO_PASSWORD.sub(rf"\1:{REDACTED}@", text)
    text = CREDENTIALS.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    text = QUERY.sub(f"?{REDACTED}", text)
    return TOKEN_PATH.sub(lambda match: f"/{match.group(1)}/{REDACTED}", text)


def redact_value(key, value):
    """A value of a mapping: whole when its key names a secret, else its text redacted (recursively)."""
    if isinstance(key, str) and SECRET_KEY.search(key):
        return REDACTED
    return redact_any(value)


def redact_any(value):
    """Any JSON-like value (dicts, lists, text) with secrets replaced at every depth."""
    if isinstance(value, dict):
        return {key: redact_value(key, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_any(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
