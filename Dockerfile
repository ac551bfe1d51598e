# Production image: gunicorn serving idp.wsgi. Configure with the environment (README).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=idp.settings.base
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
ENV STATIC_ROOT=/app/static
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --system --home /app idp && mkdir -p /app/var && chown -R idp /app/var

USER idp
EXPOSE 8000
# Run migrations as a release step: docker run ... python manage.py migrate
CMD ["gunicorn", "idp.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
