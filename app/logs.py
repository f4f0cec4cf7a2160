"""Request ids and log lines: every line during a request names its request, and none carries a secret.

With LOG_FORMAT=json each line is one JSON object (python-json-logger), gunicorn's
error and access logs included; otherwise lines stay plain text. Either way every
response carries X-Request-ID, the id its log lines have.
"""
import logging
import re
import sys
import uuid

from flask import g, has_request_context, request
from flask.logging import default_handler
from pythonjsonlogger.json import JsonFormatter

from app.production import came_through_proxy
from app.redaction import redact_path, redact_text

REQUEST_ID_HEADER = "X-Request-ID"
# What a proxy's id may look like (nginx's $request_id is 32 hex digits, others use UUIDs): anything
# else, or any id from a client when no proxy is trusted, is replaced by one made here.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"
JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"}
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] [%(request_id)s] %(message)s"


def request_id():
    """This request's id, or None outside a request."""
    return g.get("request_id") if has_request_context() else None


def assign_request_id():
    """First of all hooks: adopt the trusted proxy's id when it is well formed, else make one."""
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    trusted = came_through_proxy(request.environ) and REQUEST_ID_PATTERN.match(offered)
    g.request_id = offered if trusted else uuid.uuid4().hex


def echo_request_id(response):
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or ""
    return response


class RequestContext(logging.Filter):
    """Gives every record its request's id and a message with secrets replaced."""

    def filter(self, record):
        record.request_id = request_id()
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


class LockerJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, with tracebacks passed through the same redaction as messages."""

    def __init__(self, fields=JSON_FIELDS, **kwargs):
        super().__init__(fields, rename_fields=JSON_NAMES, **kwargs)

    def formatException(self, exc_info):
        return redact_text(super().formatException(exc_info))


class AccessJsonFormatter(LockerJsonFormatter):
    """gunicorn's access line as fields: its atoms (record.args) by name, the path without its secrets.

    The query string and the referrer are left out: signed URLs keep their signature there.
    """

    ATOMS = {"h": "remote_addr", "m": "method", "s": "status", "B": "bytes", "L": "duration_s",
             "a": "user_agent", "{x-request-id}o": "request_id"}

    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        atoms = record.args if isinstance(record.args, dict) else {}
        log_record["message"] = "request"
        log_record["path"] = redact_path(atoms.get("U", ""))
        for atom, field in self.ATOMS.items():
            log_record[field] = atoms.get(atom)
        for field in ("status", "bytes"):
            if str(log_record[field]).isdigit():
                log_record[field] = int(log_record[field])
        log_record["duration_s"] = float(log_record["duration_s"] or 0)


def redacting_handler(formatter):
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContext())
    return handler


def configure(app):
    """Set up request ids, and lines (JSON with LOG_FORMAT=json, else text) that name them and hide secrets.

    Logging is the process's: a test app in text mode leaves it to pytest.
    """
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)
    app.after_request(echo_request_id)
    log_format = app.config["LOG_FORMAT"]
    if log_format not in ("text", "json"):
        raise RuntimeError(f"LOG_FORMAT must be text or json, not {log_format!r}.")
    if log_format == "text" and app.testing:
        return
    root = logging.getLogger()
    root.handlers[:] = [redacting_handler(LockerJsonFormatter() if log_format == "json"
                                          else logging.Formatter(TEXT_FORMAT))]
    root.setLevel(app.config["LOG_LEVEL"])
    # Flask's own handler would print the app's lines a second time, unredacted.
    app.logger.removeHandler(default_handler)


class Redacted(logging.Formatter):
    """Another formatter's text lines with secrets replaced (gunicorn's text access line holds the path)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def format(self, record):
        return redact_text(self.inner.format(record))


def take_over_gunicorn_logs(gunicorn_logger, app):
    """In a gunicorn worker (see gunicorn.conf.py): its error and access lines in the app's LOG_FORMAT,
    naming their request and free of secrets."""
    json_lines = app.config["LOG_FORMAT"] == "json"
    for logger, json_formatter in [(gunicorn_logger.error_log, LockerJsonFormatter),
                                   (gunicorn_logger.access_log, AccessJsonFormatter)]:
        for handler in logger.handlers:
            handler.setFormatter(json_formatter() if json_lines else Redacted(handler.formatter or logging.Formatter()))
    for handler in gunicorn_logger.error_log.handlers:
        handler.addFilter(RequestContext())
