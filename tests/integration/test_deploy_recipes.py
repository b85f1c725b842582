"""The deployment recipes in deploy/ are checked by the tools that run here.

- the systemd unit by ``systemd-analyze verify`` (and its exposure score by
  ``systemd-analyze security --offline``), with the hardening the operations guide promises;
- the Kubernetes manifests strictly against the API types of the official ``kubernetes``
  client (generated from the Kubernetes OpenAPI spec): every key known, every value of the
  declared type, every required field present; and the configuration they ship loads;
- the Containerfile by a structural check of its instructions (no linter for it installs
  from a package registry): a pinned base, a non-root USER, a HEALTHCHECK on /healthz,
  ``rollsafe run``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client  # type: ignore[import-untyped]

from rollsafe.config import loading, models

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "rollsafe.service"
ROLLSAFE_BIN = str(Path(sys.executable).with_name("rollsafe"))  # this venv's command


# ----------------------------------------------------------------------------- systemd


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze is missing: apt-get install systemd"
    return found


def installed_unit(tmp_path: Path, text: str | None = None) -> Path:
    """The unit as installed: its ExecStart pointing at this rollsafe (verify checks it)."""
    text = UNIT.read_text() if text is None else text
    unit = tmp_path / "rollsafe.service"
    unit.write_text(text.replace("/opt/rollsafe/bin/rollsafe", ROLLSAFE_BIN))
    return unit


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_passes_systemd_analyze_verify(tmp_path):
    result = verify(installed_unit(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == ""  # not even a warning


def test_verify_catches_a_mistake_so_the_check_above_means_something(tmp_path):
    broken = UNIT.read_text().replace("ProtectHome=yes", "ProtectHomme=yes")
    result = verify(installed_unit(tmp_path, broken))
    assert "Unknown key 'ProtectHomme'" in result.stdout + result.stderr


def test_the_unit_is_hardened_as_the_guide_says():
    found = settings(UNIT.read_text())
    expected = {
        "Type": "notify",
        "User": "rollsafe",
        "DynamicUser": "yes",
        "StateDirectory": "rollsafe",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "Restart": "on-failure",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
    }
    assert {key: found.get(key, [None])[-1] for key in expected} == expected
    assert found["ExecStart"] == ["/opt/rollsafe/bin/rollsafe run -c /etc/rollsafe/rollsafe.yaml"]


def test_the_units_exposure_is_low(tmp_path):
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", str(installed_unit(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    score = re.search(r"Overall exposure level for rollsafe\.service: ([\d.]+)", result.stdout)
    assert score, result.stdout + result.stderr
    assert float(score.group(1)) <= 2.0, result.stdout  # "OK" on systemd's 0-10 scale


# ----------------------------------------------------------------------------- kubernetes

KINDS = {
    ("apps/v1", "Deployment"): "V1Deployment",
    ("v1", "Service"): "V1Service",
    ("v1", "Secret"): "V1Secret",
}


def strict(value: Any, kind: str, path: str) -> list[str]:
    """Every mismatch of ``value`` against the client's type ``kind`` (e.g. 'V1PodSpec')."""
    if kind.startswith("list["):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, item in enumerate(value) for p in strict(item, kind[5:-1], f"{path}[{i}]")]
    if kind.startswith(("dict(", "dict[")):  # the client writes both dict(str, T) and dict[str, T]
        inner = kind[kind.index(",") + 1 : -1].strip()
        if not isinstance(value, dict):
            return [f"{path}: expected a mapping"]
        return [p for k, item in value.items() for p in strict(item, inner, f"{path}.{k}")]
    scalars: dict[str, tuple[type, ...]] = {
        "str": (str,),
        "int": (int,),
        "bool": (bool,),
        "float": (int, float),
        "datetime": (str,),
        "date": (str,),
    }
    if kind in scalars:
        wrong = not isinstance(value, scalars[kind]) or (kind == "int" and isinstance(value, bool))
        return [f"{path}: expected {kind}, got {value!r}"] if wrong else []
    if kind == "object":  # IntOrString and free-form fields
        return []
    model = getattr(client, kind)
    if not isinstance(value, dict):
        return [f"{path}: expected a {kind} mapping"]
    fields = {json_name: attr for attr, json_name in model.attribute_map.items()}
    problems = [f"{path}.{key}: not a field of {kind}" for key in value if key not in fields]
    for key, item in value.items():
        if key in fields:
            problems += strict(item, model.openapi_types[fields[key]], f"{path}.{key}")
    return problems


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    found = [
        (path, document)
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    ]
    assert found
    return found


@pytest.mark.parametrize("index", range(4))
def test_every_manifest_is_a_valid_kubernetes_object(index):
    documents = manifests()
    assert len(documents) == 4  # Deployment, Service, two Secrets
    path, document = documents[index]
    kind = KINDS.get((document.get("apiVersion"), document.get("kind")))
    assert kind is not None, (
        f"{path}: unexpected {document.get('apiVersion')}/{document.get('kind')}"
    )
    assert strict(document, kind, path.name) == []
    # Required fields: the client's models refuse a missing one when deserialising.
    built = client.ApiClient()._ApiClient__deserialize(document, kind)
    assert built.metadata.name


def test_the_strict_check_catches_mistakes():
    deployment = next(d for _, d in manifests() if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    typo = {
        **pod,
        "containers": [{**pod["containers"][0], "readynessProbe": {}}],
    }
    assert strict(typo, "V1PodSpec", "spec") == [
        "spec.containers[0].readynessProbe: not a field of V1Container"
    ]
    assert strict({"replicas": "2", "selector": {}, "template": {}}, "V1DeploymentSpec", "s") == [
        "s.replicas: expected int, got '2'"
    ]
    with pytest.raises(ValueError, match="containers"):
        client.ApiClient()._ApiClient__deserialize({"volumes": []}, "V1PodSpec")


def by_kind() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for _, document in manifests():
        out.setdefault(document["kind"], []).append(document)
    return out


def test_the_deployment_runs_replicas_on_postgresql_from_a_secret(tmp_path):
    objects = by_kind()
    (deployment,) = objects["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
    secret_name = config_volume["secret"]["secretName"]
    secret = next(s for s in objects["Secret"] if s["metadata"]["name"] == secret_name)
    # The configuration the pods run loads, and its store is PostgreSQL.
    config = tmp_path / "rollsafe.yaml"
    config.write_text(secret["stringData"]["rollsafe.yaml"])
    loaded = loading.load(config)
    assert loaded.config.store.url is not None
    assert loaded.config.store.url.startswith("postgresql://")
    password_env = loaded.config.store.password_env
    env = {e["name"]: e for e in container["env"]}
    assert env[password_env]["valueFrom"]["secretKeyRef"]["name"] in {
        s["metadata"]["name"] for s in objects["Secret"]
    }
    # It listens where the Service and the probes look.
    assert loaded.config.server.address == "0.0.0.0"
    (port,) = container["ports"]
    assert port["containerPort"] == loaded.config.server.port
    assert container["args"] == ["run", "-c", "/etc/rollsafe/rollsafe.yaml"]
    assert ":" in container["image"]
    assert not container["image"].endswith(":latest")


def test_the_pods_are_locked_down_and_probed_on_healthz():
    (deployment,) = by_kind()["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe
        assert container[probe]["httpGet"]["port"] == container["ports"][0]["name"], probe


def test_the_service_selects_the_pods_and_their_port():
    objects = by_kind()
    (deployment,) = objects["Deployment"]
    (service,) = objects["Service"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    names = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


# ----------------------------------------------------------------------------- Containerfile


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and continued lines joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the file ends inside a continued line"
    return out


def test_the_containerfile_is_pinned_non_root_and_health_checked():
    steps = instructions((DEPLOY / "Containerfile").read_text())
    known = {
        "FROM", "ARG", "WORKDIR", "COPY", "RUN", "ENV", "USER", "VOLUME", "EXPOSE",
        "HEALTHCHECK", "STOPSIGNAL", "ENTRYPOINT", "CMD", "LABEL",
    }  # fmt: skip
    assert [word for word, _ in steps if word not in known] == []
    bases = [rest.split()[0] for word, rest in steps if word == "FROM"]
    assert bases
    for base in bases:
        name, _, tag = base.partition(":")
        assert tag, base  # a pinned tag ...
        assert tag != "latest", base  # ... never latest
        assert name == "python", base
    users = [rest for word, rest in steps if word == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    final = steps[max(i for i, (word, _) in enumerate(steps) if word == "FROM") :]
    assert any(word == "USER" for word, _ in final)  # the image that runs, not only the build
    (health,) = [rest for word, rest in steps if word == "HEALTHCHECK"]
    assert "/healthz" in health
    assert "CMD" in health
    # Exec form: JSON arrays, which YAML reads as flow sequences.
    entry = " ".join(
        " ".join(yaml.safe_load(rest)) for word, rest in steps if word in ("ENTRYPOINT", "CMD")
    )
    assert entry == "rollsafe run -c /etc/rollsafe/rollsafe.yaml"
    exposed = [int(rest) for word, rest in steps if word == "EXPOSE"]
    assert exposed == [models.Server().port]
    for word, rest in steps:
        if word == "COPY" and not rest.startswith("--from"):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source
