"""The admin area's pages (/admin/...): admins only. Each section adds its views to the web blueprint here
or in a module of its own, guarded by admin_required."""
from functools import wraps

from flask_login import current_user, login_required

from app.services import admin
from app.web import bp

# The admin area's sections, in the order its navigation shows them: (endpoint, label).
SECTIONS = []


def admin_required(view):
    """A signed-in admin, or 403 (signed-out visitors go to the login page first)."""

    @wraps(view)
    @login_required
    def guarded(*args, **kwargs):
        admin.require_admin(current_user)
        return view(*args, **kwargs)

    return guarded


def section(endpoint, label):
    """Name an admin page in the admin area's navigation."""
    SECTIONS.append((endpoint, label))


@bp.app_context_processor
def admin_navigation():
    return {"admin_sections": SECTIONS}
