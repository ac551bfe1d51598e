import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings.base")
application = get_wsgi_application()

# The processes that serve flush their token counts to the database (apps/ops/counters.py);
# tests and management commands never do.
from apps.ops import counters  # noqa: E402 - needs the app registry loaded above

counters.flush_in_background()
