"""Error tracking (Sentry or a compatible service), on only when SENTRY_DSN is set.

Every event passes `scrub` before it leaves: no Authorization or Cookie header, no
query string (signed URLs keep their signature there), no link token in a path, no
value whose name says password, token, secret or key. Request bodies and local
variables are never collected in the first place.
"""
import sentry_sdk
from sentry_sdk.integrations.flask import FlaskIntegration

from app.redaction import REDACTED, SECRET_HEADERS, redact_any


def scrub(event, _hint=None):
    """The event with every secret the redaction rules know replaced (Sentry's before_send)."""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        if request.get("query_string"):
            request["query_string"] = REDACTED
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {name: REDACTED if name.lower() in SECRET_HEADERS else value
                                  for name, value in headers.items()}
    return redact_any(event)


def report(error):
    """Send an error no handler expected (a no-op while reporting is off).

    Locker answers such errors itself (errors.handle_unexpected), so the SDK's Flask hook,
    which sees only errors left unhandled, never would.
    """
    sentry_sdk.capture_exception(error)


def init(config, transport=None):
    """Start reporting errors when SENTRY_DSN is set; `transport` replaces the network (tests)."""
    if not config.get("SENTRY_DSN"):
        return
    sentry_sdk.init(
        dsn=config["SENTRY_DSN"],
        environment=config.get("SENTRY_ENVIRONMENT") or config.get("ENV_NAME"),
        integrations=[FlaskIntegration()],
        before_send=scrub,
        before_breadcrumb=lambda crumb, _hint: redact_any(crumb),
        # Collect nothing that may hold a secret: no bodies, cookies, query strings, local variables.
        data_collection={"user_info": False, "cookies": {"mode": "off"}, "http_bodies": [],
                         "url_query_params": {"mode": "off"}, "stack_frame_variables": False,
                         "database_query_data": False},
        max_request_body_size="never",
        transport=transport,
    )
