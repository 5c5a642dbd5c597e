"""The verification examples in docs/webhooks.md, run against our signer.

Each example is taken from the document as written and fed a body signed by
``workers.delivery.signing``: it must accept the genuine delivery and refuse a tampered
body, a wrong secret and a stale timestamp. An example whose toolchain is not on this
machine (node, go) is skipped, not faked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workers.delivery.signing import generate_secret, sign_headers

DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
BODY = json.dumps({"type": "alert", "alert_id": "a1", "note": "Zürich – “quoted” ✓"})


def _block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert found, f"docs/webhooks.md has no {language} example"
    return found.group(1)


def _cases() -> list[tuple[str, str, str, dict[str, str], bool]]:
    """(name, secret given to the example, body, headers, should verify)."""
    secret = generate_secret()
    good = sign_headers("msg_1", BODY, [secret])
    old = sign_headers("msg_1", BODY, [secret], now=datetime.now(UTC) - timedelta(hours=1))
    rotated = sign_headers("msg_1", BODY, [generate_secret(), secret])
    return [
        ("genuine", secret, BODY, good, True),
        ("rotation: second signature", secret, BODY, rotated, True),
        ("tampered body", secret, BODY.replace("a1", "a2"), good, False),
        ("wrong secret", generate_secret(), BODY, good, False),
        ("stale timestamp", secret, BODY, old, False),
        ("no signature", secret, BODY, {**good, "webhook-signature": ""}, False),
    ]


def _run(argv: list[str], cwd: Path, stdin: str) -> list[bool]:
    done = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [line == "ok" for line in done.stdout.split()]


def _expected() -> tuple[str, list[bool]]:
    cases = _cases()
    lines = [
        json.dumps({"secret": s, "body": b, "headers": {k: v for k, v in h.items()}})
        for _, s, b, h, _ in cases
    ]
    return "\n".join(lines) + "\n", [want for *_, want in cases]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_example(tmp_path: Path) -> None:
    script = _block("js") + (
        "\nconst lines = require('node:fs').readFileSync(0, 'utf8').trim().split('\\n');\n"
        "for (const line of lines) {\n"
        "  const c = JSON.parse(line);\n"
        "  try { verify(c.secret, c.body, c.headers); console.log('ok'); }\n"
        "  catch (e) { console.log('refused'); }\n"
        "}\n"
    )
    (tmp_path / "verify.js").write_text(script, encoding="utf-8")
    stdin, want = _expected()
    assert _run(["node", "verify.js"], tmp_path, stdin) == want


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_go_example(tmp_path: Path) -> None:
    example = _block("go").replace(
        "import (", 'import (\n\t"bufio"\n\t"encoding/json"\n\t"fmt"\n\t"os"', 1
    )
    main = (
        "\nfunc main() {\n"
        "\tin := bufio.NewScanner(os.Stdin)\n"
        "\tin.Buffer(make([]byte, 1<<20), 1<<20)\n"
        "\tfor in.Scan() {\n"
        "\t\tvar c struct{ Secret, Body string; Headers map[string]string }\n"
        "\t\tif err := json.Unmarshal(in.Bytes(), &c); err != nil { panic(err) }\n"
        "\t\th := http.Header{}\n"
        "\t\tfor k, v := range c.Headers { h.Set(k, v) }\n"
        '\t\tif Verify(c.Secret, []byte(c.Body), h) == nil { fmt.Println("ok") } else { fmt.Println("refused") }\n'
        "\t}\n"
        "}\n"
    )
    (tmp_path / "main.go").write_text("package main\n\n" + example + main, encoding="utf-8")
    env_home = tmp_path / "gocache"
    stdin, want = _expected()
    argv = ["env", f"GOCACHE={env_home}", "GO111MODULE=off", "go", "run", "main.go"]
    assert _run(argv, tmp_path, stdin) == want


def test_python_example() -> None:
    source = _block("python")
    documented = re.search(r'Webhook\("(whsec_[^"]+)"\)', source)
    assert documented, "the Python example names its secret"
    processed: list[object] = []
    seen: set[str] = set()

    def already_seen(webhook_id: str) -> bool:
        if webhook_id in seen:
            return True
        seen.add(webhook_id)
        return False

    outcomes = []
    for _name, secret, body, headers, _ in _cases():
        namespace: dict[str, object] = {"already_seen": already_seen, "process": processed.append}
        exec(source.replace(documented.group(1), secret), namespace)  # noqa: S102 - our own doc
        seen.clear()
        try:
            namespace["handle"](body.encode(), headers)  # type: ignore[operator]
            outcomes.append(True)
        except PermissionError:
            outcomes.append(False)
    assert outcomes == [want for *_, want in _cases()]
    assert processed and all(isinstance(p, dict) for p in processed)
