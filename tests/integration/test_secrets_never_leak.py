"""No secret of the config or the environment ever leaves rollsafe: not in logs, not in the
audit, not in API answers, not in CLI output, not in error messages, not in the database.

Every place a secret can come from is filled with a distinctive value
(``s3cr3t-<kind>-<random>``): API tokens (env and file), intake bearer and HMAC secrets, chat
webhook URLs carrying tokens, the SMTP password, a local driver's ``env`` whose rollback
command echoes it, an SSH passphrase, audit-shipping credentials, the store password. Then the
real thing runs: ``rollsafe config check`` (good and broken configs), ``rollsafe run`` with
debug logging receiving forged and valid webhooks, a real rollback on real files, every API
read, the CLI's JSON outputs and the audit export; and every byte that came out, plus every
text column of the SQLite database, is searched for every secret (raw, base64, URL-encoded).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets as random_secrets
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROLLSAFE = str(Path(sys.executable).with_name("rollsafe"))
TARGET = "web-1"


def _secret(kind: str) -> str:
    return f"s3cr3t-{kind}-{random_secrets.token_hex(6)}"


SECRETS = {
    kind: _secret(kind)
    for kind in (
        "apitoken",
        "apitokenfile",
        "bearer",
        "hmac",
        "slack",
        "wecom",
        "dingtalk",
        "dingtalksign",
        "feishu",
        "smtp",
        "dbpassword",
        "storepw",
        "storeurl",
        "passphrase",
        "esapikey",
        "lokipw",
        "linkkey",
    )
}


# A secret that is a number: YAML reads it as one, so it is a wrong type in `env`.
SECRETS["pin"] = "9" + "".join(random_secrets.choice("0123456789") for _ in range(11))


def forms(value: str) -> set[str]:
    """The ways a secret may show up: as is, base64 (alone or as user:pass), URL-encoded."""
    out = {value, urllib.parse.quote(value, safe=""), base64.b64encode(value.encode()).decode()}
    out.add(base64.b64encode(f"elastic:{value}".encode()).decode())
    return out


def assert_clean(where: str, text: str) -> None:
    leaks = [kind for kind, value in SECRETS.items() for form in forms(value) if form in text]
    assert not leaks, f"{where} leaks {sorted(set(leaks))}:\n{text[-4000:]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Site:
    """A workspace: the live directory, the config, the environment with every secret."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.live = root / "srv" / TARGET
        (self.live / "etc").mkdir(parents=True)
        (self.live / "etc" / "app.conf").write_text("listen = 8080\n")
        (root / "api.token").write_text(SECRETS["apitokenfile"] + "\n")
        (root / "known_hosts").write_text("")
        self.config = root / "rollsafe.yaml"
        self.config.write_text(self.yaml())

    def yaml(self) -> str:
        wecom = f"http://127.0.0.1:1/cgi-bin/webhook/send?key={SECRETS['wecom']}"
        return f"""\
version: 1
state_dir: state
policy:
  verify_timeout: 20s
  max_rollbacks_per_target: 10
  watch_after_upgrade: 0s
server: {{port: {self.port}}}
targets:
  - id: {TARGET}
    address: 127.0.0.1
    driver: files
    vars: {{root: "{self.root / "srv"}"}}
drivers:
  - kind: local
    name: files
    directory: "{{root}}/{{id}}"
    env: {{DB_PASSWORD: "{SECRETS["dbpassword"]}"}}
    checkpoint: ["sh", "-c", "echo checkpoint with $DB_PASSWORD"]
    upgrade: ["sh", "-c", "echo \\"cannot log in with $DB_PASSWORD\\" >&2; exit 3"]
    rollback: ["sh", "-c", "echo \\"password is $DB_PASSWORD\\"; echo \\"again $DB_PASSWORD\\" >&2"]
  - kind: host
    name: over-ssh
    transport:
      kind: ssh
      known_hosts: "{self.root / "known_hosts"}"
      passphrase_env: SSH_KEY_PASSPHRASE
    recipe: {{kind: directory, path: /srv/app}}
intake:
  - name: bearer-in
    kind: generic
    auth: {{kind: bearer, token_env: INTAKE_TOKEN}}
    target_label: instance
  - name: query-in
    kind: generic
    auth: {{kind: bearer, token_env: INTAKE_TOKEN, allow_query: true}}
    target_label: instance
  - name: signed-in
    kind: generic
    auth: {{kind: hmac, secret_env: INTAKE_HMAC}}
    target_label: instance
rules:
  - id: alert-critical
    kind: alert
    source: bearer-in
    severity: critical
notifiers:
  - {{kind: slack, name: chat, url_env: SLACK_URL}}
  - {{kind: wecom, name: wecom, url: "{wecom}"}}
  - {{kind: dingtalk, name: ding, url_env: DINGTALK_URL, secret_env: DINGTALK_SECRET}}
  - {{kind: feishu, name: lark, url_env: FEISHU_URL}}
  - kind: email
    name: mail
    host: 127.0.0.1
    port: 1
    security: none
    username: rollsafe
    password_env: SMTP_PASSWORD
    sender: rollsafe@example.com
    to: [sre@example.com]
access:
  link_key_env: LINK_KEY
  public_url: http://127.0.0.1:{self.port}
  tokens:
    - {{name: ops, role: admin, token_env: API_TOKEN}}
    - {{name: viewer, role: viewer, token_file: api.token}}
audit_shipping:
  - {{kind: elasticsearch, name: es, url: "http://127.0.0.1:1", api_key_env: ES_API_KEY,
     timeout: 1s, max_backoff: 1s}}
  - {{kind: loki, name: loki, url: "http://127.0.0.1:1", username: elastic,
     password_env: LOKI_PASSWORD, timeout: 1s, max_backoff: 1s}}
"""

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            COLUMNS="5000",  # no wrapped log line may split a secret and hide it
            API_TOKEN=SECRETS["apitoken"],
            INTAKE_TOKEN=SECRETS["bearer"],
            INTAKE_HMAC=SECRETS["hmac"],
            SLACK_URL=f"http://127.0.0.1:1/services/T0/B0/{SECRETS['slack']}",
            DINGTALK_URL=f"http://127.0.0.1:1/robot/send?access_token={SECRETS['dingtalk']}",
            DINGTALK_SECRET=SECRETS["dingtalksign"],
            FEISHU_URL=f"http://127.0.0.1:1/open-apis/bot/v2/hook/{SECRETS['feishu']}",
            SMTP_PASSWORD=SECRETS["smtp"],
            SSH_KEY_PASSPHRASE=SECRETS["passphrase"],
            ES_API_KEY=SECRETS["esapikey"],
            LOKI_PASSWORD=SECRETS["lokipw"],
            LINK_KEY=SECRETS["linkkey"],
            STORE_PASSWORD=SECRETS["storepw"],
        )
        return env

    def cli(self, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        where = str(config or self.config)
        argv = [*args, where] if args[:2] == ("config", "check") else [*args, "-c", where]
        result = subprocess.run(
            [ROLLSAFE, *argv],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert_clean(f"rollsafe {' '.join(args)}", result.stdout + result.stderr)
        return result

    def http(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, data, got = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, data, got = exc.code, exc.read(), exc.headers
        assert_clean(f"{method} {path}", f"{got}\n{data.decode(errors='replace')}")
        return status, data

    def api(self, path: str) -> Any:
        status, data = self.http(
            "GET", path, headers={"Authorization": f"Bearer {SECRETS['apitoken']}"}
        )
        assert status == 200, (path, data)
        return json.loads(data) if data.lstrip()[:1] in (b"{", b"[") else data


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


@pytest.fixture
def controller(site: Site) -> Iterator[subprocess.Popen[str]]:
    # Into a file, not a pipe: nobody reads a pipe while the test runs, and a full one would
    # block the daemon's logging (and with it the daemon).
    with (site.root / "run.log").open("w") as log:
        process = subprocess.Popen(
            [ROLLSAFE, "run", "-v", "-c", str(site.config)],
            cwd=site.root,
            env=site.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def wait_for(what: str, check: Callable[[], bool], process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"never: {what}")


def alert_body() -> bytes:
    now = datetime.datetime.now(tz=datetime.UTC).isoformat()
    alert = {"name": "Down", "state": "firing", "labels": {"instance": TARGET}, "time": now}
    return json.dumps({"alerts": [alert]}).encode()


def database_text(state: Path) -> str:
    """Every text (and blob) value of every table of the SQLite store."""
    out: list[str] = []
    for path in state.glob("*.db"):
        with sqlite3.connect(path) as db:
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            tables = [row[0] for row in db.execute(query)]
            for table in tables:
                # The names come from the database's own catalogue, not from outside.
                rows = db.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
                for row in rows:
                    for value in row:
                        if isinstance(value, bytes):
                            out.append(value.decode(errors="replace"))
                        elif isinstance(value, str):
                            out.append(value)
    assert out, f"no database under {state}"
    return "\n".join(out)


def test_config_check_and_schema_print_no_secret(site: Site) -> None:
    checked = site.cli("config", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    schema = subprocess.run(
        [ROLLSAFE, "config", "schema"], capture_output=True, text=True, check=True, timeout=60
    )
    assert_clean("config schema", schema.stdout + schema.stderr)


def test_broken_configs_do_not_echo_their_secrets(site: Site) -> None:
    good = site.yaml()
    # A typo next to a secret-bearing field: the token pasted inline under a wrong key.
    typo = good.replace(
        "token_env: API_TOKEN}",
        f"token_env: API_TOKEN, token: {SECRETS['apitoken']}}}",
    )
    # A wrong type where the value is the secret itself: env written as a list.
    wrong_type = good.replace(
        f'env: {{DB_PASSWORD: "{SECRETS["dbpassword"]}"}}',
        f'env: ["DB_PASSWORD={SECRETS["dbpassword"]}"]',
    )
    # A wrong type again: the webhook URL (with its key) given as a list.
    wrong_url = good.replace('url: "http://127.0.0.1:1/cgi', 'url: ["http://127.0.0.1:1/cgi')
    wrong_url = wrong_url.replace(f'{SECRETS["wecom"]}"', f'{SECRETS["wecom"]}"]')
    # A numeric password under a name that does not say "password": still a secret.
    number = good.replace("env: {DB_PASSWORD:", f"env: {{MYSQL_PWD: {SECRETS['pin']}, DB_PASSWORD:")
    cases = {"typo": typo, "wrong-type": wrong_type, "wrong-url": wrong_url, "number": number}
    for name, text in cases.items():
        assert text != good, name
        path = site.root / f"{name}.yaml"
        path.write_text(text)
        result = site.cli("config", "check", config=path)
        assert result.returncode == 2, (name, result.stdout + result.stderr)


def test_a_store_url_password_is_never_printed(site: Site) -> None:
    state = site.root / "pg-state"
    # Nothing listens on port 1: every command that opens the store fails, naming it.
    stores = {
        "url": f"{{url: 'postgresql://rollsafe:{SECRETS['storeurl']}@127.0.0.1:1/x'}}",
        "env": "{url: 'postgresql://rollsafe@127.0.0.1:1/x', password_env: STORE_PASSWORD}",
        # Unparsable (the port is no number): the message still names the URL, masked.
        "bad": f"{{url: 'postgresql://rollsafe:{SECRETS['storeurl']}@127.0.0.1:port/x'}}",
    }
    for name, store in stores.items():
        path = site.root / f"pg-{name}.yaml"
        path.write_text(f"version: 1\nstate_dir: {state}\nstore: {store}\ntargets: []\n")
        command = {"url": ("config", "check"), "env": ("audit", "export")}.get(name)
        if command is not None:
            site.cli(*command, config=path)
        opened = site.cli("status", "--json", config=path)
        assert opened.returncode == 2, opened.stdout + opened.stderr
        assert "cannot open the store at postgresql://rollsafe" in opened.stderr, opened.stderr


def test_nothing_leaks_from_a_running_controller(
    site: Site, controller: subprocess.Popen[str]
) -> None:
    process = controller
    checkpoint = site.cli("checkpoint", TARGET)
    assert checkpoint.returncode == 0, checkpoint.stdout + checkpoint.stderr
    # A failing command's stderr (which echoes the password) becomes an error message.
    upgrade = site.cli("upgrade", TARGET)
    assert upgrade.returncode != 0, upgrade.stdout + upgrade.stderr
    assert "cannot log in with ***" in upgrade.stdout + upgrade.stderr
    wait_for("the API answers", lambda: site.http("GET", "/healthz")[0] == 200, process)

    body = alert_body()
    json_type = {"Content-Type": "application/json"}
    # Forged: a wrong bearer token, a wrong HMAC signature.
    status, _ = site.http(
        "POST",
        "/intake/bearer-in",
        body=body,
        headers={**json_type, "Authorization": "Bearer not-the-token"},
    )
    assert status == 401
    stamp = str(int(time.time()))
    forged = hmac.new(b"wrong-key", stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    status, _ = site.http(
        "POST",
        "/intake/signed-in",
        body=body,
        headers={
            **json_type,
            "X-Rollsafe-Timestamp": stamp,
            "X-Rollsafe-Signature": f"sha256={forged}",
        },
    )
    assert status == 401
    # Valid: a signed one (no rule on it) and a bearer one that opens a rollback.
    signed = hmac.new(
        SECRETS["hmac"].encode(), stamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    status, _ = site.http(
        "POST",
        "/intake/signed-in",
        body=body,
        headers={
            **json_type,
            "X-Rollsafe-Timestamp": stamp,
            "X-Rollsafe-Signature": f"sha256={signed}",
        },
    )
    assert status == 202
    status, _ = site.http(
        "POST",
        "/intake/bearer-in",
        body=body,
        headers={**json_type, "Authorization": f"Bearer {SECRETS['bearer']}"},
    )
    assert status == 202
    # A sender that cannot set headers puts the token in the URL: access logs must not keep it.
    quoted = urllib.parse.quote(SECRETS["bearer"])
    status, _ = site.http("POST", f"/intake/query-in?token={quoted}", body=body, headers=json_type)
    assert status == 202
    status, _ = site.http("POST", f"/intake/query-in?token={quoted}x", body=body, headers=json_type)
    assert status == 401

    def finished_run() -> bool:
        listed = site.api("/api/v1/runs")
        found = listed["runs"] if isinstance(listed, dict) else listed
        return any(run.get("state") in ("succeeded", "failed") for run in found)

    wait_for("a finished rollback run", finished_run, process)
    runs = site.api("/api/v1/runs")
    found = runs["runs"] if isinstance(runs, dict) else runs
    [run] = found
    assert run["state"] == "succeeded", run
    detail = site.api(f"/api/v1/runs/{run['id']}")
    # The rollback command did run and print: its output is kept, the password masked.
    assert "password is ***" in json.dumps(detail), detail
    for path in (
        "/api/v1/whoami",
        "/api/v1/fleet",
        f"/api/v1/targets/{TARGET}/signals",
        "/api/v1/audit",
        "/api/v1/audit?limit=1000",
        "/api/v1/rollouts",
        "/api/v1/breaker",
        "/metrics",
        "/openapi.json",
        "/dashboard",
        "/healthz",
    ):
        site.api(path)
    # The viewer's token (from a file) works and is not echoed either.
    status, _ = site.http(
        "GET", "/api/v1/whoami", headers={"Authorization": f"Bearer {SECRETS['apitokenfile']}"}
    )
    assert status == 200

    for args in (
        ("runs", "--json"),
        ("runs", "show", run["id"]),
        ("status", "--json"),
        ("audit", "export"),
        ("audit", "show"),
        ("audit", "verify"),
        ("restore-points", TARGET, "--json"),
        ("target", "list"),
    ):
        result = site.cli(*args)
        assert result.returncode == 0, (args, result.stdout + result.stderr)

    process.terminate()
    process.wait(timeout=30)
    output = (site.root / "run.log").read_text()
    assert "DEBUG" in output, output[-2000:]  # the most talkative level was on
    assert_clean("rollsafe run output", output)
    assert_clean("the SQLite database", database_text(site.root / "state"))
    for kept in (site.root / "state").rglob("*"):
        if kept.is_file() and kept.suffix in (".json", ".log", ".jsonl"):
            assert_clean(str(kept), kept.read_text(errors="replace"))
