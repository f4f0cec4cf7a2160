"""Fixtures for tests that run Locker as separate processes: a database and a Redis of their own.

These tests choose their own database (PostgreSQL, which several hosts share), so `make test`
runs them once, not once per TEST_DATABASE_URL.
"""
import pytest

from app import create_app
from tests.conftest import make_config
from tests.deploy.processes import POSTGRES_URL, redis_database
from tests.scratch_db import scratch_postgres_database


@pytest.fixture(scope="module")
def postgres_url():
    """A new PostgreSQL database on the machine's server, dropped after the module."""
    with scratch_postgres_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(scope="module")
def redis_url():
    """A Redis database of the module's own, emptied after it."""
    with redis_database() as url:
        yield url


def control_app(database_url, storage_dir, **settings):
    """An in-process app on the instances' database (and storage), for making users and reading rows:
    what an operator's `flask locker` would see."""
    return create_app(make_config(database_url, {}, storage_dir, **settings))
