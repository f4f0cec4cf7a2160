"""The storage breaker: refuse at once while the store is known down, try one call at a time after the cooldown."""
from app.storage.breaker import Breaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_failure_refuses_calls_until_the_cooldown_then_lets_one_trial_through():
    clock = Clock()
    breaker = Breaker(cooldown=5, clock=clock)
    assert breaker.admit() and breaker.admit()  # closed: every call goes

    breaker.failed(TimeoutError("read timeout"))
    assert not breaker.admit() and breaker.retry_in() == 5 and "read timeout" in breaker.last_error

    clock.now += 5
    assert breaker.admit(), "the first call after the cooldown is the trial"
    assert not breaker.admit(), "only one trial at a time"


def test_a_failed_trial_waits_another_cooldown_and_a_good_one_closes_it():
    clock = Clock()
    breaker = Breaker(cooldown=5, clock=clock)
    breaker.failed(OSError("refused"))
    clock.now += 5
    assert breaker.admit()
    breaker.failed(OSError("refused again"))
    clock.now += 4
    assert not breaker.admit()

    clock.now += 1
    assert breaker.admit()
    breaker.succeeded()
    assert not breaker.is_open and breaker.admit() and breaker.admit() and breaker.retry_in() == 0
