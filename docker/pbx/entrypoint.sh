#!/bin/sh
# Render the Callguard Asterisk templates from environment variables, then run Asterisk in the foreground.
set -eu

: "${INSTANCE_DIR:=/var/lib/callguard}"
: "${SYSTEM_NAME:=callguard-pbx}"
: "${AMI_PORT:=5038}"
: "${AMI_USER:=callguard}"
: "${AMI_SECRET:?AMI_SECRET must be set}"
: "${AMI_PERMIT:=0.0.0.0/0.0.0.0}"
: "${BIND_ADDRESS:=0.0.0.0}"
: "${MEDIA_ADDRESS:=$(hostname -i | cut -d' ' -f1)}"
: "${SIP_PORT:=5060}"
: "${CUSTOMER_HOST:?CUSTOMER_HOST (the SIP trunk host) must be set}"
: "${CUSTOMER_PORT:=5060}"
: "${CUSTOMER_DIAL_TIMEOUT:=30}"
: "${GO_TIMEOUT_TENTHS:=100}"
: "${QUALIFY_FREQUENCY:=2}"
: "${RECORDINGS_DIR:=${INSTANCE_DIR}/recordings}"
: "${RECORDING_FORMAT:=wav}"
: "${RTP_START:=20000}"
: "${RTP_END:=20999}"
: "${PROBE_TONE_HZ:=1000}"
: "${PROBE_MAX_SECONDS:=60}"
: "${AGENTS:=}"
export INSTANCE_DIR SYSTEM_NAME AMI_PORT AMI_USER AMI_SECRET AMI_PERMIT BIND_ADDRESS MEDIA_ADDRESS SIP_PORT \
  CUSTOMER_HOST CUSTOMER_PORT CUSTOMER_DIAL_TIMEOUT GO_TIMEOUT_TENTHS QUALIFY_FREQUENCY RECORDINGS_DIR RECORDING_FORMAT \
  RTP_START RTP_END PROBE_TONE_HZ PROBE_MAX_SECONDS AGENTS

for sub in etc spool log run db cache recordings; do
  mkdir -p "${INSTANCE_DIR}/${sub}"
done
mkdir -p "${RECORDINGS_DIR}"

# Fails (non-zero) on a missing value or a malformed AGENTS list ("user:password,user2:password2").
python3 /opt/callguard/render.py /opt/callguard/templates "${INSTANCE_DIR}/etc"

exec /usr/sbin/asterisk -C "${INSTANCE_DIR}/etc/asterisk.conf" -f
