"""Container health: a volume server has joined the master, and the S3 port answers HTTP (any status)."""

import json
import os
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen("http://127.0.0.1:9333/dir/status", timeout=4) as resp:
        topology = json.loads(resp.read())["Topology"]
    if not any(dc.get("Racks") for dc in topology.get("DataCenters") or []):
        sys.exit("no volume server has joined yet")
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{os.environ.get('S3_PORT', '8333')}/", timeout=4).close()
    except urllib.error.HTTPError:
        pass  # 403 without credentials: S3 is up
except (OSError, ValueError, KeyError) as exc:
    sys.exit(f"not healthy: {exc}")
