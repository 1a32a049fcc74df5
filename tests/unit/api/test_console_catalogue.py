"""The console's message catalogue (web/src/console/i18n.js), read by Node as the browser reads it: both languages
have the same keys, every message is text (a stray quote once turned one into NaN, which broke a screen only after
a language switch), and each message has the same placeholders in both languages."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parents[3] / "web" / "src" / "console" / "i18n.js"
READ = """
globalThis.localStorage = { getItem: () => null, setItem: () => {} };
const { CATALOGUES } = await import(process.argv[1]);
const typed = (cat) => Object.fromEntries(Object.entries(cat).map(([k, v]) => [k, [typeof v, String(v)]]));
process.stdout.write(JSON.stringify({ zh: typed(CATALOGUES["zh-CN"]), en: typed(CATALOGUES.en) }));
"""


def test_both_languages_have_the_same_messages_all_text_with_the_same_placeholders() -> None:
    node = shutil.which("node")
    assert node, "node is needed to build the console (make web)"
    out = subprocess.run([node, "--input-type=module", "-e", READ, CATALOGUE.as_uri()], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    cats = json.loads(out)
    zh, en = cats["zh"], cats["en"]
    assert sorted(zh) == sorted(en), {"only zh": set(zh) - set(en), "only en": set(en) - set(zh)}
    not_text = [(lang, k, v) for lang, cat in cats.items() for k, (kind, v) in cat.items() if kind != "string"]
    assert not_text == []
    placeholders = re.compile(r"\{(\w+)\}")
    differ = [k for k in zh if set(placeholders.findall(zh[k][1])) != set(placeholders.findall(en[k][1]))]
    assert differ == []
