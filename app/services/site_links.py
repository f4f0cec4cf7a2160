"""Full addresses of Locker's pages for mail and the CLI, which may run outside any request."""
from flask import current_app, has_request_context, url_for

# What a command run at the server's shell names when PUBLIC_URL is unset (as `flask locker bootstrap` does).
DEFAULT_BASE = "http://127.0.0.1:5000"


def absolute_url(endpoint, **values):
    """The page's address for people outside Locker: under PUBLIC_URL when set, else the request's host,
    else (a command, no request) DEFAULT_BASE."""
    public_url = current_app.config.get("PUBLIC_URL")
    if public_url:
        if has_request_context():
            return public_url.rstrip("/") + url_for(endpoint, **values)
        with current_app.test_request_context(base_url=public_url):
            return url_for(endpoint, **values, _external=True)
    if has_request_context():
        return url_for(endpoint, **values, _external=True)
    # url_for needs a request (or SERVER_NAME) to build an address; a made-up one names the base.
    with current_app.test_request_context(base_url=DEFAULT_BASE):
        return url_for(endpoint, **values, _external=True)
