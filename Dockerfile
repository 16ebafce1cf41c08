# DueSpark: the server, the worker and the CLI in one small image.
#
#   docker build -t duespark .
#   docker run --env-file duespark.env -p 8000:8000 duespark            # the server
#   docker run --env-file duespark.env duespark duespark worker         # a worker
#   docker run --env-file duespark.env duespark duespark db upgrade     # the release step
#
# See docs/deploy.md. The image holds no configuration: everything comes from the
# environment (DATABASE_URL, SECRET_KEY, DUESPARK_EMAIL_URL, DUESPARK_EMAIL_FROM, ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Only what the package needs; the dependencies are pinned in pyproject.toml.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /app/src /app/build

# Never run as root: a dedicated user owning only its working directory (where an SQLite
# file would live in a one-container trial; production uses PostgreSQL).
RUN useradd --system --create-home --home-dir /home/duespark --uid 10001 duespark \
    && mkdir -p /data && chown duespark:duespark /data
USER duespark
WORKDIR /data

EXPOSE 8000

# Liveness only (/healthz never touches the database), so a database outage does not make
# the engine restart healthy containers; load balancers check /readyz instead.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]

# SIGTERM drains (DUESPARK_DRAIN_SECONDS, then in-flight requests finish): give the container
# a stop timeout longer than that (docker stop -t / stop_grace_period / kill_timeout).
STOPSIGNAL SIGTERM
CMD ["duespark", "serve", "--host", "0.0.0.0", "--port", "8000"]
