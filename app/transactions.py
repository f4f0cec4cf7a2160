"""No database transaction stays open across a call to storage.

A write transaction held while the store is slow holds its locks just as long:
on SQLite every other writer (sign-ins, token creation, other uploads) waits
and then fails with "database is locked". So the session notes when its
transaction writes, and a storage call made inside a write is a bug that
fails loudly; a read-only transaction is simply ended first, keeping what it
loaded (its snapshot would otherwise stay open on both databases).
"""
from flask import has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db

WROTE = "locker.wrote"


class WriteOpenDuringNetworkCall(RuntimeError):
    """Code called storage before committing its writes; commit first, then call, then compensate."""


@event.listens_for(Session, "do_orm_execute")
def _note_statement_writes(state):
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[WROTE] = True


@event.listens_for(Session, "after_flush")
def _note_flush(session, _context):
    session.info[WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_writes(session, transaction):
    if transaction.parent is None:
        session.info.pop(WROTE, None)


def end_before_network_call():
    """Called before every storage request that leaves this process."""
    if not has_app_context():
        return  # a helper thread (e.g. reading an upload's first bytes) holds no transaction
    session = db.session()
    if not session.in_transaction():
        return
    if session.info.get(WROTE) or session.new or session.dirty or session.deleted:
        raise WriteOpenDuringNetworkCall("a storage call was made inside an open database write")
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
