"""gunicorn settings (read from the working directory by `gunicorn idp.wsgi`).

Threads per worker overlap the database round trips of one request with the work of
another, and gthread workers keep client connections alive, which services calling
/o/token/ on every hop rely on. Set WEB_CONCURRENCY (worker processes; gunicorn reads it
itself) and GUNICORN_THREADS in the environment.
"""

import os

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5
