"""Quiet budgets for mail: how often something may be emailed, counted in the rate-limit storage.

Unlike app.auth.limits.spend, running out refuses nothing and tells the requester nothing: the
mail is simply not sent (a burst of downloads makes one notice; a flood of "forgot password"
requests for one account makes a few emails, and the page answers the same either way).
"""
import logging

from flask import current_app

from app.auth import limits
from app.errors import Unavailable
from app.transactions import end_before_network_call

log = logging.getLogger(__name__)


def has_room(budget):
    """Count one message against every window of `budget`; False (and nothing kept counted) when one is full.

    False too when the rate-limit storage is not answering: without its counters a notice could
    flood an inbox, and nothing a request does depends on the mail."""
    # The counters may live in Redis, a network call: no read transaction stays open across it.
    end_before_network_call()
    counted = []
    try:
        for window in limits.windows(current_app.config[budget.setting]):
            key, expiry = window.key_for(budget.scope, budget.key), window.get_expiry()
            total = limits.storage_call(lambda storage: storage.incr(key, expiry))
            counted.append((key, expiry))
            if total > window.amount:
                limits.give_back(counted)
                return False
    except Unavailable:
        log.warning("rate-limit storage not answering; not sending mail counted by %s", budget.setting)
        return False
    return True
