"""Budgets of guesses: sign-in passwords, link passwords and sign-ups.

A guess is counted before it is checked, with one atomic increment per window
in the rate-limit storage (memory, or Redis shared by every worker), and given
back when it turns out right. Checking first and counting the failure after
would let a burst of parallel requests all pass the check before any of them
was counted.
"""
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from flask import after_this_request, current_app
from flask_limiter.util import get_remote_address
from limits import parse_many
from werkzeug.exceptions import TooManyRequests

from app.errors import Forbidden, LockerError, Unauthorized, limits_unavailable
from app.extensions import limiter
from app.health import REDIS_SCHEMES
from app.services import accounts, oidc, users


@dataclass(frozen=True)
class Budget:
    """How many guesses `key` gets in `scope`, as the limit string in the config setting `setting`."""

    setting: str
    scope: str
    key: str


class Spent(TooManyRequests):
    """Handled as any 429: a form goes back to its page with the reason flashed, the API answers JSON."""


# A Redis that stops answering costs a guess this long, then a 503, instead of holding a request
# thread until the kernel gives up on the connection.
REDIS_TIMEOUT_SECONDS = 1


def storage_options(config):
    """What the limiter passes to its storage client: time limits for Redis, nothing for memory."""
    if urlsplit(config["RATELIMIT_STORAGE_URI"]).scheme not in REDIS_SCHEMES:
        return {}
    return {"socket_timeout": REDIS_TIMEOUT_SECONDS, "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}


@lru_cache(maxsize=64)
def windows(limit_string):
    # Longest first: when that one is full too, Retry-After names the wait that really lets a guess in.
    return tuple(sorted(parse_many(limit_string), key=lambda window: window.get_expiry(), reverse=True))


def address():
    return "address:" + get_remote_address()


def sign_in_budgets(username):
    return (Budget("LOGIN_LIMIT_PER_ACCOUNT", "login-account", "account:" + users.normalize_username(username)),
            Budget("LOGIN_LIMIT_PER_ADDRESS", "login-address", address()))


def register_budgets():
    return (Budget("REGISTER_LIMIT_PER_ADDRESS", "register-address", address()),)


def storage_call(call, *args, **kwargs):
    storage = limiter.storage
    try:
        return call(storage, *args, **kwargs)
    except storage.base_exceptions as error:
        raise limits_unavailable() from error


# A window that ran out between the count and the give-back is gone: decrementing it would make a
# fresh counter of -1 (one more guess in the next window), so only a live, positive counter goes down.
GIVE_BACK_IF_LIVE = """
local count = tonumber(redis.call('get', KEYS[1]))
if count and count > 0 then return redis.call('decr', KEYS[1]) end
return 0
"""


def give_back(counted):
    for key, _ in counted:
        storage_call(decrement_if_live, key)


def decrement_if_live(storage, key):
    if hasattr(storage, "decr"):  # memory://: its decr stops at 0 and makes no key
        return storage.decr(key)
    script = getattr(storage, "locker_give_back", None)
    if script is None:
        script = storage.locker_give_back = storage.get_connection().register_script(GIVE_BACK_IF_LIVE)
    return script([storage.prefixed_key(key)])


def spend(budgets):
    """Count one guess against every window of every budget, in order; at the first window that is over,
    take back what was counted and refuse, saying when that window resets. Returns what was counted.

    Stopping at the first full window keeps a refused guess from holding places in later windows,
    where it would crowd out guesses that are still within every limit."""
    counted = []
    for budget in budgets:
        for window in windows(current_app.config[budget.setting]):
            key, expiry = window.key_for(budget.scope, budget.key), window.get_expiry()
            total = storage_call(lambda storage: storage.incr(key, expiry))
            counted.append((key, expiry))
            if total > window.amount:
                wait = storage_call(lambda storage: storage.get_expiry(key)) - time.time()
                give_back(counted)
                refuse(max(1, math.ceil(wait)))
    return counted


def refuse(retry_after):
    # The app's 429 handler builds its own page or JSON; the header is added to whatever it answers.
    @after_this_request
    def tell_when(response):
        response.headers["Retry-After"] = str(retry_after)
        return response

    raise Spent(retry_after=retry_after)


def guess(budgets, check):
    """check() as one counted guess: a wrong one (check() falsy, or raising Unauthorized) stays counted,
    a right one is given back, so people who know their password never use up the budget."""
    counted = spend(budgets)
    try:
        right = check()
    except Unauthorized:
        raise
    except BaseException:
        give_back(counted)
        raise
    if right:
        give_back(counted)
    return right


def authenticate(username, password):
    """users.authenticate, within the account's and the address's budgets of failed sign-ins."""
    oidc.require_local_login()  # before counting: a refusal for everyone is no guess
    return guess(sign_in_budgets(username), lambda: users.authenticate(username, password))


def register(username, password):
    """users.register within the address's sign-up budget. Accounts made and names found taken count;
    a refused username or password does not, so a person fixing a typo is not held back."""
    oidc.require_local_login()  # an account with a password nobody may sign in with is no use
    counted = spend(register_budgets())
    try:
        return users.register(username, password)
    except LockerError as error:
        if error.code != "username_taken":
            give_back(counted)
        raise


def confirm_identity(user, password, code=None, second_factor=False):
    """accounts.confirm_identity as a counted sign-in guess for the account (and the address), so a stolen
    session cannot try passwords faster than the login form allows; refuses with Forbidden wrong_password."""
    if not guess(sign_in_budgets(user.username),
                 lambda: accounts.confirm_identity(user, password, code, second_factor=second_factor)):
        message = ("Wrong password or two-factor code." if second_factor and user.two_factor_enabled
                   else "That is not your current password.")
        raise Forbidden(message, code="wrong_password")
