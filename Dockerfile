# syntax=docker/dockerfile:1
# Production image: slim, multi-stage, non-root, with a health check.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY bot bot
COPY dialogs dialogs
COPY storage storage
COPY emulator emulator
RUN pip install ".[postgres,redis]"
COPY locales locales
# Compiled catalogs are build products: made here, never committed.
RUN BOT_TOKEN=0:build LOCALES_DIR=/src/locales proconnect compile-locales

FROM python:3.11-slim
# Fonts for profile PDFs in every script: DejaVu (Latin, Cyrillic, Arabic), Noto (Ethiopic for Tigrinya).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-noto-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 proconnect
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/locales /app/locales
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LOCALES_DIR=/app/locales \
    WEBHOOK_PORT=8080
WORKDIR /app
USER proconnect
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"WEBHOOK_PORT\",\"8080\")}/healthz', timeout=4)" || exit 1
# Webhook mode by default (several replicas behind a load balancer); `proconnect run` for long polling.
CMD ["proconnect", "webhook"]
