# The IdP's production image (docs/deployment.md). One image for every role:
#   docker run IMAGE web | migrate | seed-demo | demo SERVICE | manage ARGS...
# Configure with the environment (README, Configuration); never bake secrets in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=idp.settings.base \
    STATIC_ROOT=/app/staticfiles \
    WEB_CONCURRENCY=2 \
    GUNICORN_THREADS=4

WORKDIR /app

# Exact pins (requirements.txt); no compiler needed: every package ships a wheel.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# Static files are collected at build time and served by WhiteNoise from the app itself.
RUN SECRET_KEY=build-only-not-used-at-runtime python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin idp \
    && mkdir -p /app/var /demo \
    && chown idp /app/var /demo

USER 10001
EXPOSE 8000
# Process alive; readiness (database, signing keys) is /readyz, for the load balancer.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"
ENTRYPOINT ["docker/entrypoint.sh"]
CMD ["web"]
