from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes  # noqa: E402,F401  (routes attach themselves to bp)
from app.auth import account_pages  # noqa: E402,F401  (the Account page's self-service sections)
