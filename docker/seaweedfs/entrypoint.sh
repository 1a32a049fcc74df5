#!/bin/sh
# Write the S3 identity from the environment (never stored in the image or the repository), then run one
# `weed server` (master, volume, filer, S3) in the foreground, with every byte under /data.
set -eu
: "${S3_ACCESS_KEY:?S3_ACCESS_KEY must be set}"
: "${S3_SECRET_KEY:?S3_SECRET_KEY must be set}"
: "${S3_PORT:=8333}"
: "${DATA_DIR:=/data}"
umask 0077
printf '{"identities":[{"name":"callguard","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' \
  "${S3_ACCESS_KEY}" "${S3_SECRET_KEY}" > /tmp/s3.json
exec weed server -dir="${DATA_DIR}" -master.volumeSizeLimitMB=1024 -volume.max=0 -filer \
  -s3 -s3.port="${S3_PORT}" -s3.config=/tmp/s3.json -s3.port.iceberg=0 -s3.port.lance=0
