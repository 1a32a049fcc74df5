#!/bin/sh
# Render the Callguard Asterisk templates from environment variables, then run Asterisk in the foreground
# as the unprivileged "asterisk" user (-U/-G): it owns its spool, log, run, db and cache directories and the
# recordings directory, and may only read its configuration. The service (its own unprivileged user) reads and
# deletes the recordings in the shared volume through the directory's group (RECORDINGS_GID).
set -eu

: "${INSTANCE_DIR:=/var/lib/callguard}"
: "${SYSTEM_NAME:=callguard-pbx}"
: "${AMI_PORT:=5038}"
: "${AMI_USER:=callguard}"
: "${AMI_SECRET:?AMI_SECRET must be set}"
: "${AMI_PERMIT:=127.0.0.1/255.255.255.255}"  # docker-compose.yml sets its own network's subnet
: "${BIND_ADDRESS:=0.0.0.0}"
: "${MEDIA_ADDRESS:=$(hostname -i | cut -d' ' -f1)}"
: "${SIP_PORT:=5060}"
# What phones and trunks outside LOCAL_NET are told (SDP c=, Contact, Via): the host's address, not the
# container's. docker-compose.yml requires PBX_PUBLIC_ADDRESS for both; LOCAL_NET is the compose network.
: "${EXTERNAL_MEDIA_ADDRESS:=${MEDIA_ADDRESS}}"
: "${EXTERNAL_SIGNALING_ADDRESS:=${EXTERNAL_MEDIA_ADDRESS}}"
: "${LOCAL_NET:=127.0.0.0/8}"
# The recordings directory's group: the service container's group id (its user reads and removes them)
: "${RECORDINGS_GID:=}"
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
: "${DEFAULT_CLI:=}"  # number presented to customers when the service sends none ("+" and digits; empty: withheld)
: "${AGENTS:=}"
: "${PROBE_ACCOUNTS:=}"  # the recording probe's SIP account(s), "user:password": the only ones that may dial probe
: "${RUN_USER:=asterisk}"
# AMI over TLS (optional): AMI_TLS_PORT (e.g. 5039) with AMI_TLS_CERT and AMI_TLS_KEY, PEM files mounted into the
# container and readable by RUN_USER; the service's [[pbx]] then sets ami_tls = true and ami_port = AMI_TLS_PORT
: "${AMI_TLS_PORT:=}"
: "${AMI_TLS_CERT:=}"
: "${AMI_TLS_KEY:=}"
# SIP over TLS for agents' phones (optional): SIP_TLS_PORT (e.g. 5061) with SIP_TLS_CERT and SIP_TLS_KEY (PEM, readable
# by RUN_USER); every agent endpoint then uses the TLS transport, and SIP_SRTP=yes makes its media SRTP (SDES)
: "${SIP_TLS_PORT:=}"
: "${SIP_TLS_CERT:=}"
: "${SIP_TLS_KEY:=}"
: "${SIP_SRTP:=no}"
export INSTANCE_DIR SYSTEM_NAME AMI_PORT AMI_USER AMI_SECRET AMI_PERMIT BIND_ADDRESS MEDIA_ADDRESS SIP_PORT \
  EXTERNAL_MEDIA_ADDRESS EXTERNAL_SIGNALING_ADDRESS LOCAL_NET \
  CUSTOMER_HOST CUSTOMER_PORT CUSTOMER_DIAL_TIMEOUT GO_TIMEOUT_TENTHS QUALIFY_FREQUENCY RECORDINGS_DIR RECORDING_FORMAT \
  RTP_START RTP_END PROBE_TONE_HZ PROBE_MAX_SECONDS DEFAULT_CLI AGENTS PROBE_ACCOUNTS AMI_TLS_PORT AMI_TLS_CERT AMI_TLS_KEY \
  SIP_TLS_PORT SIP_TLS_CERT SIP_TLS_KEY SIP_SRTP

for sub in etc spool log run db cache recordings; do
  mkdir -p "${INSTANCE_DIR}/${sub}"
done
mkdir -p "${RECORDINGS_DIR}"

# Fails (non-zero) on a missing value or a malformed AGENTS list ("user:password,user2:password2").
python3 /opt/callguard/render.py /opt/callguard/templates "${INSTANCE_DIR}/etc"

chown -R "root:${RUN_USER}" "${INSTANCE_DIR}/etc"
chmod 0750 "${INSTANCE_DIR}/etc"
find "${INSTANCE_DIR}/etc" -type f -exec chmod 0640 {} +
for sub in spool log run db cache; do
  chown "${RUN_USER}:${RUN_USER}" "${INSTANCE_DIR}/${sub}"
  chmod 0750 "${INSTANCE_DIR}/${sub}"
done
if [ -n "${RECORDINGS_GID}" ]; then
  # shared with the service's unprivileged user: group-owned by its group, new files inherit the group (setgid)
  # and are group-readable and -writable (umask below), so the service may read and remove them
  chown "${RUN_USER}:${RECORDINGS_GID}" "${RECORDINGS_DIR}"
  chmod 2770 "${RECORDINGS_DIR}"
  umask 0007
else
  chown "${RUN_USER}:${RUN_USER}" "${RECORDINGS_DIR}"
  chmod 0750 "${RECORDINGS_DIR}"
fi

exec /usr/sbin/asterisk -U "${RUN_USER}" -G "${RUN_USER}" -C "${INSTANCE_DIR}/etc/asterisk.conf" -f
