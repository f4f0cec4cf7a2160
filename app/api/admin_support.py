"""The admin API's one check, for every /api/v1/admin/... view."""
from functools import wraps

from flask import g

from app.services import admin


def admin_only(view):
    @wraps(view)
    def guarded(*args, **kwargs):
        admin.require_admin(g.api_user)
        return view(*args, **kwargs)

    return guarded
