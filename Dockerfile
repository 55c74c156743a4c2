# One image for the worker and (later) the webhook API.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY cshub ./cshub
COPY domain ./domain
COPY playbooks ./playbooks
COPY templates ./templates
COPY connectors ./connectors
COPY activities ./activities
COPY workflows ./workflows
COPY sandbox ./sandbox
COPY webhooks ./webhooks
COPY worker.py ./
RUN pip install .
RUN useradd --system --uid 10001 cshub && mkdir -p /data && chown cshub /data
USER cshub
CMD ["cshub", "worker"]
