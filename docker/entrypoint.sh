#!/bin/sh
# The image's entrypoint: one image, one subcommand per role (docker-compose.yml, docs/deployment.md).
#
#   web                 the IdP under gunicorn (WEB_CONCURRENCY workers, GUNICORN_THREADS threads)
#   migrate             apply database migrations and create missing signing keys, then exit
#                       (a release step, never at import)
#   seed-demo           create the GloboTicket demo data; credentials to $DEMO_CREDENTIALS_FILE
#   demo SERVICE        one GloboTicket demo service (eventcatalog, shoppingbasket, discount, web)
#   manage ARGS...      any manage.py command (rotate_keys, clear_expired_tokens, createsuperuser)
set -eu

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
  web)
    exec gunicorn idp.wsgi --config gunicorn.conf.py --bind "${BIND:-0.0.0.0:8000}" "$@"
    ;;
  migrate)
    python manage.py migrate --noinput "$@"
    exec python manage.py ensure_keys
    ;;
  seed-demo)
    : "${DEMO_CREDENTIALS_FILE:?set DEMO_CREDENTIALS_FILE to where the demo services read their secrets}"
    umask 077
    python manage.py seed_demo --json > "$DEMO_CREDENTIALS_FILE.tmp"
    mv "$DEMO_CREDENTIALS_FILE.tmp" "$DEMO_CREDENTIALS_FILE"
    echo "demo credentials written to $DEMO_CREDENTIALS_FILE"
    ;;
  demo)
    service="${1:?usage: demo eventcatalog|shoppingbasket|discount|web}"
    export DEMO_SERVICE="$service" DJANGO_SETTINGS_MODULE=demo.settings
    # Not the IdP's gunicorn.conf.py (read from the working directory by default): its hooks are
    # the IdP's (metrics files, the counters flusher). The demo package is an empty config.
    exec gunicorn demo.wsgi -c python:demo --bind "${BIND:-127.0.0.1:8001}" --threads 4
    ;;
  manage)
    exec python manage.py "$@"
    ;;
  *)
    echo "unknown role '$role': web, migrate, seed-demo, demo SERVICE or manage ARGS" >&2
    exit 64
    ;;
esac
