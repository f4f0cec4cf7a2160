#!/bin/sh
# Everything the Locker image does when it starts (deploy/Dockerfile), in order: wait for the
# database, migrate it, set up storage (bucket and CORS, or the local folder), make sure an admin
# can sign in (LOCKER_ADMIN_USERNAME/PASSWORD, or a setup link in the log), then become gunicorn
# with the production settings (exec: it receives the container's stop signal itself).
# With arguments it runs them instead, once the database answers:
#   docker compose run --rm locker flask --app wsgi locker sweep
set -eu
cd "$(dirname "$0")/.."
flask --app wsgi locker wait-for-database --timeout "${DATABASE_WAIT:-60}"
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
flask --app wsgi db upgrade
flask --app wsgi locker setup-storage
flask --app wsgi locker bootstrap
exec gunicorn --config gunicorn.conf.py wsgi:app
