"""Sign-in rate limits, shared by the login page and the API's token endpoint.

Only failed attempts count, per account and per address, so an attacker
cannot lock out a user by trying from many places faster than it can guess.
"""
from flask import current_app, request

from app.extensions import limiter
from app.services.users import normalize_username


def attempted_username():
    data = request.form or request.get_json(silent=True) or {}
    username = data.get("username") if hasattr(data, "get") else None
    return "account:" + normalize_username(username)


def failed(response):
    return response.status_code == 401


def not_an_attempt():
    return request.method != "POST"


per_account = limiter.shared_limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], scope="login-account",
    key_func=attempted_username, deduct_when=failed, exempt_when=not_an_attempt)
per_address = limiter.shared_limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"], scope="login-address",
    deduct_when=failed, exempt_when=not_an_attempt)


def sign_in_limits(view):
    return per_account(per_address(view))
