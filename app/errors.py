"""Domain errors, and the one place that turns any error into HTML or JSON."""
import logging

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

from app import error_reports
from app.extensions import db
from app.formatting import wait_in_words

log = logging.getLogger(__name__)


class LockerError(Exception):
    """A refusal a user can act on: it carries a stable code and a plain message."""

    status = 400
    code = "bad_request"
    index = None  # set by batch requests: the position of the item refused

    def __init__(self, message, code=None, status=None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or self.status


class InvalidInput(LockerError):
    status, code = 400, "invalid_input"


class Unauthorized(LockerError):
    status, code = 401, "unauthorized"


class Forbidden(LockerError):
    status, code = 403, "forbidden"


class NotFound(LockerError):
    status, code = 404, "not_found"


class Conflict(LockerError):
    status, code = 409, "conflict"


class TooLarge(LockerError):
    status, code = 413, "too_large"


class Unavailable(LockerError):
    status, code = 503, "unavailable"


def limits_unavailable():
    # Without its counters Locker cannot tell a guess from an attack: refuse, but plainly.
    return Unavailable("Rate-limit storage is not answering, so this cannot be checked right now. "
                       "Try again in a minute.", code="limits_unavailable")


HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              416: "range_not_satisfiable",
              429: "rate_limited", 500: "internal_error", 503: "unavailable"}


def wants_json():
    """API and storage clients get JSON; browsers asking for pages get HTML."""
    if request.path.startswith(("/api/", "/_storage/", "/healthz", "/readyz", "/metrics")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status, code, message, index=None):
    if wants_json():
        detail = {"code": code, "message": message}
        if index is not None:
            detail["index"] = index
        response = jsonify(error=detail)
        response.status_code = status
        return response
    return render_template("errors/error.html", status=status, message=message), status


# A schema field's problem is reported under the code the services use for it.
FIELD_CODES = {"numbers": "invalid_parts", "parts": "invalid_parts", "checksums": "invalid_parts",
               "q": "invalid_query"}


def first_message(details):
    """The first human message in marshmallow's nested {field: [messages]} structure."""
    while isinstance(details, dict):
        details = next(iter(details.values()), "")
    return details[0] if isinstance(details, list) and details else str(details)


def validation_error(messages):
    """(code, message) for a request the API's schemas refused."""
    location, problems = next(iter(messages.items()))
    if location == "json" and (not request.get_data() or not isinstance(problems, dict) or "_schema" in problems):
        return "invalid_json", "Send a JSON object with Content-Type: application/json."
    field, details = next(iter(problems.items()))
    label = field
    if isinstance(details, dict) and details and all(isinstance(key, int) for key in details):
        position, item = min(details.items())
        if isinstance(item, dict) and item:
            # One item of a batch: its field gives the code, as the same problem sent alone would.
            field, details = next(iter(item.items()))
            label = f"{label}[{position}].{field}"
    return FIELD_CODES.get(field, f"invalid_{field}"), f"{label}: {first_message(details)}"


def refused_item(messages):
    """For a batch request the schemas refused in one of its items: that item's position, else None."""
    problems = next(iter(messages.values()))
    items = problems.get("items") if isinstance(problems, dict) else None
    if isinstance(items, dict) and items and all(isinstance(key, int) for key in items):
        return min(items)
    return None


def register_error_handlers(app):
    @app.errorhandler(LockerError)
    def handle_locker_error(error):
        db.session.rollback()
        if not wants_json() and request.method == "POST" and error.status not in (401, 404, 410):
            # A form that failed goes back where it came from, with the reason shown.
            flash(error.message, "error")
            return redirect(request.referrer or url_for("web.index"))
        return error_response(error.status, error.code, error.message, error.index)

    @app.errorhandler(RedisError)
    def handle_limits_down(_error):
        # Redis holds only rate-limit counters; the limits Flask-Limiter checks itself (guest uploads)
        # raise its errors as they are.
        return handle_locker_error(limits_unavailable())

    @app.errorhandler(CSRFError)
    def handle_csrf_error(error):
        message = "The form expired or was not sent from Locker. Reload the page and try again."
        if not wants_json():
            flash(message, "error")
            return redirect(request.referrer or url_for("web.index"))
        return error_response(400, "csrf_failed", message)

    @app.errorhandler(429)
    def handle_rate_limited(error):
        # Sign-in and link-password budgets know when a guess is allowed again (some windows are an hour).
        retry_after = getattr(error, "retry_after", None)
        wait = wait_in_words(retry_after) if isinstance(retry_after, int) else "a minute"
        message = f"Too many attempts. Try again in {wait}."
        if not wants_json() and request.method == "POST":
            # Back to the form (a GET, which is not limited) with the reason shown.
            flash(message, "error")
            return redirect(request.url)
        return error_response(429, "rate_limited", message)

    @app.errorhandler(HTTPException)
    def handle_http_error(error):
        messages = (getattr(error, "data", None) or {}).get("messages")
        if messages:
            response = error_response(400, *validation_error(messages), index=refused_item(messages))
        else:
            response = error_response(error.code, HTTP_CODES.get(error.code, "error"), error.description)
        if isinstance(response, tuple):
            response = app.make_response(response)
        # Keep what the client needs to act: Allow on a 405, Content-Range on a 416.
        for name, value in error.get_headers():
            if name in ("Allow", "Content-Range", "Retry-After"):
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        db.session.rollback()
        log.exception("unhandled error")
        error_reports.report(error)
        return error_response(500, "internal_error", "Something went wrong on our side. Nothing was changed.")
