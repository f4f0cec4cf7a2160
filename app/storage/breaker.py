"""Fail fast while a store is known to be down, and find out by itself when it is back.

A stalled store makes every call wait out its timeouts; with a few such calls in
flight every worker thread is stuck and pages that never touch storage stop
answering too. After a call fails on the network, the breaker is open: calls are
refused at once for `cooldown` seconds, then one call at a time is let through
as a trial, and the first that succeeds closes it again.

Written here rather than taken from a library because it sits on botocore's
event hooks (before-call, after-call, after-call-error), which see every API
call and every paginator page, while circuit-breaker libraries wrap a function
call, and the popular one (pybreaker) holds a lock across the call it wraps.
"""
import threading
import time


class Breaker:
    def __init__(self, cooldown, clock=time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self.lock = threading.Lock()
        self.opened_at = None  # None: closed
        self.trial_running = False
        self.last_error = None

    @property
    def is_open(self):
        return self.opened_at is not None

    def admit(self):
        """True when a call may go out now; a refused call should fail at once."""
        with self.lock:
            if self.opened_at is None:
                return True
            if self.trial_running or self.clock() - self.opened_at < self.cooldown:
                return False
            self.trial_running = True
            return True

    def succeeded(self):
        with self.lock:
            self.opened_at = None
            self.trial_running = False
            self.last_error = None

    def failed(self, error):
        with self.lock:
            self.opened_at = self.clock()
            self.trial_running = False
            self.last_error = str(error)

    def retry_in(self):
        """Seconds until a trial call is let through (0 when closed)."""
        with self.lock:
            if self.opened_at is None:
                return 0
            return max(0, round(self.cooldown - (self.clock() - self.opened_at)))
