# Callguard service image. Build from the repository root: docker build -t callguard .
# Base images are pinned to exact version tags (bump them deliberately, with the constraints).

# ---- the console and /docs assets, from the npm packages pinned by web/package-lock.json (as `make web`) ----
FROM node:22.12.0-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY web/ ./
RUN node build.mjs

# ---- the service ----
FROM python:3.11.11-slim-bookworm

# ffmpeg merges and transcodes recordings
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

# The service runs as this unprivileged user. Its group id is the one the PBX gives the shared recordings
# directory (docker-compose.yml: RECORDINGS_GID), so the service may read and remove what Asterisk wrote.
ARG CALLGUARD_UID=10001
ARG CALLGUARD_GID=10001
RUN groupadd --system --gid "${CALLGUARD_GID}" callguard \
 && useradd --system --uid "${CALLGUARD_UID}" --gid callguard --home-dir /var/lib/callguard --no-create-home \
      --shell /usr/sbin/nologin callguard \
 && install -d -o callguard -g callguard -m 0750 /var/lib/callguard

WORKDIR /opt/callguard
COPY pyproject.toml constraints.txt README.md ./
# every product package (tests/unit/deploy/test_docker_compose.py checks that none is missing)
COPY analytics/ analytics/
COPY api/ api/
COPY app/ app/
COPY approvals/ approvals/
COPY audit/ audit/
COPY auth/ auth/
COPY callbacks/ callbacks/
COPY campaigns/ campaigns/
COPY cases/ cases/
COPY compliance/ compliance/
COPY config/ config/
COPY core/ core/
COPY db/ db/
COPY dialer/ dialer/
COPY clients/ clients/
COPY hooks/ hooks/
COPY inbound/ inbound/
COPY metrics/ metrics/
COPY monitor/ monitor/
COPY payments/ payments/
COPY presence/ presence/
COPY recordings/ recordings/
COPY sandbox/ sandbox/
COPY sip/ sip/
COPY --from=web /src/web/dist/ web/dist/
# the `sip` extra (pjsua2) is what the scheduled recording probe's phone needs
RUN pip install --no-cache-dir -c constraints.txt ".[sip]"

# The service runs from this tree (migrations, web assets and every package as checked out), not from a copy.
ENV PYTHONPATH=/opt/callguard PYTHONUNBUFFERED=1
USER callguard:callguard
WORKDIR /var/lib/callguard

EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-m", "app", "healthcheck"]
ENTRYPOINT ["python", "-m", "app"]
CMD ["serve"]
