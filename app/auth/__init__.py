from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401  (routes attach themselves to bp)
from app.auth import oidc  # noqa: E402,F401  (single sign-on)
from app.auth import two_factor  # noqa: E402,F401  (two-factor pages and the requirement check)
from app.auth import invitation_routes  # noqa: E402,F401  (invitations, password resets, email)
from app.auth import account_pages  # noqa: E402,F401  (the Account page's self-service sections)
