"""Loading a configuration with log platform probes: their fields and templates are checked.

Unknown template variables and malformed templates are reported by ``config check`` with the
file and line, as for the other probes, instead of making the probe blind at run time; the
LogQL fields take ``$name`` placeholders like a PromQL query.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rollsafe.config import loading
from rollsafe.domain import errors

HEAD = """\
targets:
  - {id: web-1, vars: {topic: t-1}}
probes:
"""


def _problems(tmp_path: Path, probes: str) -> list[str]:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(probes), "  "), encoding="utf-8")
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)
    return [p.removeprefix(f"{path}:") for p in caught.value.problems]


def test_every_kind_loads(tmp_path: Path) -> None:
    path = tmp_path / "rollsafe.yaml"
    path.write_text(
        HEAD
        + textwrap.indent(
            textwrap.dedent(
                """\
                - {kind: elasticsearch, name: a, url: "http://es:9200", index: "logs-{id}",
                   query: '"oom-kill"', host_field: host.name}
                - {kind: loki, name: b, url: "http://loki:3100", selector: '{host="$id"}',
                   pipeline: '|= "panic"', window: 1m, delay: 30s}
                - {kind: sls, name: c, endpoint: cn-hangzhou.log.aliyuncs.com, project: ops,
                   logstore: kern, query: oom, topic: "{id}"}
                - {kind: cls, name: d, region: ap-guangzhou, topic_id: "{topic}", query: oom}
                """
            ),
            "  ",
        ),
        encoding="utf-8",
    )
    loaded = loading.load(path)
    assert [p.kind for p in loaded.config.probes] == ["elasticsearch", "loki", "sls", "cls"]


def test_unknown_variables_are_reported_with_their_line(tmp_path: Path) -> None:
    found = _problems(
        tmp_path,
        """\
        - {kind: elasticsearch, name: a, url: "http://es:9200", index: "logs-{site}",
           query: '"x"'}
        - {kind: loki, name: b, url: "http://loki:3100", selector: '{host="$hostname"}'}
        - {kind: cls, name: d, region: ap-guangzhou, topic_id: "{topic_id}", query: oom}
        """,
    )
    assert found == [
        "4: probes[0].index: unknown template variable {site} for target 'web-1' "
        "(expected one of the variables of 'web-1': address, id, topic)",
        "6: probes[1].selector: unknown template variable $hostname for target 'web-1' "
        "(expected one of the variables of 'web-1': address, id, topic)",
        "7: probes[2].topic_id: unknown template variable {topic_id} for target 'web-1' "
        "(expected one of the variables of 'web-1': address, id, topic)",
    ]


def test_field_mistakes_are_reported(tmp_path: Path) -> None:
    found = _problems(
        tmp_path,
        """\
        - {kind: elasticsearch, name: a, url: "es:9200", index: logs, query: x,
           username: u}
        - {kind: loki, name: b, url: "http://loki:3100", selector: '{a="b"}', window: 0s}
        - {kind: sls, name: c, endpoint: e, project: ops, logstore: kern,
           query: "oom | select count(*)"}
        """,
    )
    assert found == [
        "4: probes[0]: give both `username` and `password_env`, or neither",
        "6: probes[1]: window must be greater than 0",
        "8: probes[2].query: give the search statement only: the probe adds `| select count(*)` "
        "itself",
    ]


def test_a_url_that_is_not_http_is_reported(tmp_path: Path) -> None:
    found = _problems(
        tmp_path,
        """        - {kind: elasticsearch, name: a, url: "es.internal:9200", index: logs, query: x}
        """,
    )
    assert found == [
        "4: probes[0].url: for target 'web-1': not an absolute http(s) URL "
        "(expected e.g. http://{address}:{port}/health)"
    ]


def test_the_example_in_the_integrations_guide_loads(tmp_path: Path) -> None:
    guide = Path(__file__).resolve().parents[3] / "docs" / "integrations.md"
    section = guide.read_text(encoding="utf-8").split("## Log platforms (probes)", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "rollsafe.yaml"
    path.write_text(example, encoding="utf-8")
    loaded = loading.load(path)
    kinds = {p.name: p.kind for p in loaded.config.probes}
    assert kinds == {
        "health": "http",
        "kernel-oom": "elasticsearch",
        "kernel-panic": "loki",
        "app-errors": "sls",
        "app-errors-cls": "cls",
    }
    assert any(rule.id == "web-service.oom-kills" for rule in loaded.config.rules)
