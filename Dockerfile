# syntax=docker/dockerfile:1
# ai-proxy container: Cloud Run (cloudbuild.yaml), Kubernetes (deploy/k8s), ECS Fargate.
#   docker build -t ai-proxy .                      # keys from env / a Kubernetes Secret
#   docker build --build-arg EXTRAS=gcp -t ai-proxy .   # + Secret Manager (aws, azure alike)
# Every dependency installs from binary wheels, so neither stage needs a compiler, and only from
# the locks under requirements/ with every hash checked (README, "Supply chain").
# For a release, pin the base image by digest: `docker buildx imagetools inspect python:3.11-slim`
# prints it ("Digest:"), then --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements requirements
# The build backend (and a pip) from build.txt, outside the image's venv.
RUN python -m venv /opt/build-tools \
    && /opt/build-tools/bin/pip install --require-hashes --only-binary=:all: -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY core core
COPY adapters adapters
# One lock per extra, each holding the gateway's pins too (EXTRAS=gcp,tokenizer: gcp.txt + tokenizer.txt).
RUN set -- -r requirements/gateway.txt \
    && IFS=, && for extra in $EXTRAS; do set -- "$@" -r "requirements/$extra.txt"; done && unset IFS \
    && python -m venv /opt/ai-proxy \
    && /opt/ai-proxy/bin/pip install --require-hashes --only-binary=:all: "$@" \
    && /opt/build-tools/bin/pip wheel --no-deps --no-build-isolation -w /tmp/wheel . \
    && /opt/ai-proxy/bin/pip install --no-deps /tmp/wheel/ai_proxy-*.whl \
    && /opt/ai-proxy/bin/pip check \
    && find /opt/ai-proxy -name __pycache__ -prune -exec rm -rf {} + \
    && /opt/ai-proxy/bin/python -m compileall -q /opt/ai-proxy/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ai-proxy" \
      org.opencontainers.image.description="Anthropic Messages API gateway for Gemini, OpenAI, Anthropic"
RUN groupadd --system --gid 10001 ai-proxy \
    && useradd --system --uid 10001 --gid ai-proxy --no-create-home --shell /usr/sbin/nologin ai-proxy
COPY --from=build /opt/ai-proxy /opt/ai-proxy
ENV PATH=/opt/ai-proxy/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080
USER 10001:10001
EXPOSE 8080
# Liveness only: readiness (keys loaded, not draining) is the orchestrator's /health/ready probe.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('PORT', '8080'), timeout=2)"]
# SIGTERM: /health/ready turns 503, then in-flight streams get server.shutdown_timeout_seconds.
STOPSIGNAL SIGTERM
CMD ["python", "-m", "ai_proxy_cloud_run"]
