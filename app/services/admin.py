"""What only admins may do starts here: the one check, and finding the account an action is about."""
from app.errors import Forbidden, NotFound
from app.extensions import db
from app.models import User
from app.services.common import MAX_ROW_ID

NOT_ADMIN = "Only administrators can do that."


def require_admin(user):
    if user is None or not user.is_authenticated or not user.is_admin:
        raise Forbidden(NOT_ADMIN, code="not_admin")


def find_user(user_id):
    """The account with this id (one being deleted included), or NotFound."""
    user = db.session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id <= MAX_ROW_ID else None
    if user is None:
        raise NotFound("No such user.", code="no_such_user")
    return user
