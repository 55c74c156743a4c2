# One image for the worker and the webhook API (docker-compose.yml).
#
# Reproducible: every dependency comes from requirements.lock, pinned with hashes
# (pip --require-hashes refuses anything else); regenerate it with the command at its top
# after changing pyproject.toml. Production only: the local emulators (the sandbox
# package, with its SMTP sink) are left out, so `cshub dev` is not in this image.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/cshub
WORKDIR /src
COPY requirements.lock ./
RUN /opt/cshub/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY cshub ./cshub
COPY runtime ./runtime
COPY wiring ./wiring
COPY domain ./domain
COPY playbooks ./playbooks
COPY templates ./templates
COPY connectors ./connectors
COPY activities ./activities
COPY workflows ./workflows
COPY sandbox ./sandbox
COPY webhooks ./webhooks
COPY worker.py ./
# --no-deps --no-build-isolation: nothing is fetched beyond the lock file (setuptools and
# wheel are in it). pyproject.toml lists the sandbox package; it is removed right after.
RUN /opt/cshub/bin/pip install --no-deps --no-build-isolation . \
 && rm -rf /opt/cshub/lib/python3.11/site-packages/sandbox \
 && /opt/cshub/bin/python -c "import cshub.cli, webhooks.app, worker" \
 && /opt/cshub/bin/pip check

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PATH=/opt/cshub/bin:$PATH
COPY --from=build /opt/cshub /opt/cshub
RUN useradd --system --uid 10001 cshub && mkdir -p /data && chown cshub /data
WORKDIR /data
USER cshub
CMD ["cshub", "worker"]
