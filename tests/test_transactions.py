"""No database transaction stays open across a call to storage (see app/transactions.py)."""
import pytest
from sqlalchemy import inspect

from app.extensions import db
from app.models import User
from app.transactions import WriteOpenDuringNetworkCall
from tests.storage_support import new_key


@pytest.fixture
def backend(s3):
    """Only S3 calls leave the process; local disk is not guarded."""
    from tests.conftest import S3_SETTINGS
    return S3_SETTINGS


def test_a_storage_call_inside_a_write_fails_loudly_and_writes_nothing(app, owner):
    storage = app.extensions["locker.storage"]
    db.session.execute(db.update(User).where(User.id == owner.id).values(used_bytes=User.used_bytes + 5))

    with pytest.raises(WriteOpenDuringNetworkCall):
        storage.stat(new_key())

    db.session.rollback()
    assert db.session.get(User, owner.id).used_bytes == 0


def test_an_unflushed_change_counts_as_a_write(app, owner):
    owner.quota_bytes = 10
    with pytest.raises(WriteOpenDuringNetworkCall):
        app.extensions["locker.storage"].stat(new_key())
    db.session.rollback()


def test_a_read_transaction_is_ended_first_and_what_it_loaded_stays_loaded(app, owner):
    user = db.session.get(User, owner.id)
    assert db.session().in_transaction()

    assert app.extensions["locker.storage"].stat(new_key()) is None

    assert not db.session().in_transaction()
    assert not inspect(user).expired and user.username == owner.username


def test_after_a_commit_storage_may_be_called(app, owner):
    db.session.execute(db.update(User).where(User.id == owner.id).values(used_bytes=7))
    db.session.commit()
    assert app.extensions["locker.storage"].stat(new_key()) is None
