"""Flask extensions, created unbound and bound to the app in create_app."""
import flask_limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints keep migrations identical on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Limiter(flask_limiter.Limiter):
    """Flask-Limiter, without its check before every request while nothing could be limited there.

    That check applies default, application-wide and blueprint limits; Locker sets none of them
    (its limits sit on views, each checked as its view is called, or are counted by
    app.auth.limits), and finding nothing took about 0.1 ms of CPU on every request. Once any such
    limit is set, the check runs as Flask-Limiter has it.
    """

    def _check_request_limit(self, callable_name=None, in_middleware=True):
        manager = self.limit_manager
        if in_middleware and not (manager.application_limits or manager.default_limits or self._meta_limits
                                  or manager._blueprint_limits or manager._endpoint_hints):
            return
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
