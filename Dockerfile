# Callguard service image. Build from the repository root: docker build -t callguard .
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/callguard
COPY pyproject.toml constraints.txt README.md ./
COPY analytics/ analytics/
COPY api/ api/
COPY app/ app/
COPY auth/ auth/
COPY cases/ cases/
COPY compliance/ compliance/
COPY config/ config/
COPY core/ core/
COPY db/ db/
COPY dialer/ dialer/
COPY hooks/ hooks/
COPY recordings/ recordings/
COPY sandbox/ sandbox/
COPY sip/ sip/
RUN pip install --no-cache-dir -c constraints.txt .

EXPOSE 8080
ENTRYPOINT ["callguard"]
CMD ["serve"]
