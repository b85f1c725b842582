"""Loading rollsafe.yaml: the shipped example loads, and each mistake is named by line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rollsafe.config import loading, models
from rollsafe.domain import errors

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "rollsafe.yaml"

# A small valid file. Tests replace one piece of it, keeping line numbers where they were.
BASE = """\
targets:
  - id: web-1
    labels: {role: web}
    vars: {port: 8080}
    driver: app
probes:
  - kind: http
    name: health
    url: http://{address}:{port}/health
    interval: 15s
rules:
  - kind: threshold
    id: slow
    probe: health
    field: latency
    op: ">"
    value: 2
drivers:
  - kind: local
    name: app
    directory: /srv/app/{id}
"""


def write(tmp_path: Path, text: str, name: str = "rollsafe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    """The problem lines for ``text``, without the file name (which is a temporary path)."""
    path = write(tmp_path, text)
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in caught.value.problems), caught.value.problems
    return [p.removeprefix(prefix) for p in caught.value.problems]


def edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


# --------------------------------------------------------------------------- valid files


def test_base_is_valid(tmp_path):
    loaded = loading.load(write(tmp_path, BASE))
    assert [t.id for t in loaded.config.targets] == ["web-1"]


def test_the_shipped_example_loads(tmp_path):
    loaded = loading.load(EXAMPLE)
    config = loaded.config
    assert loaded.path == EXAMPLE
    assert loaded.state_dir == (EXAMPLE.parent / "state").resolve()
    assert [t.id for t in config.targets] == ["web-1", "web-2", "db-1"]
    kinds = {p.kind for p in config.probes}
    assert kinds == {"http", "tcp", "host", "log", "data", "command"}
    assert {r.kind for r in config.rules} == {"ratio", "rate", "baseline", "threshold", "all"}
    composite = next(r for r in config.rules if r.kind == "all")
    assert composite.severity == "critical"
    assert [d.kind for d in config.drivers] == ["local"]
    assert [n.kind for n in config.notifiers] == ["log"]


def test_the_example_shows_every_policy_field():
    written = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))["policy"]
    assert set(written) == set(models.Policy.model_fields)


def test_state_dir_is_relative_to_the_config_file_not_the_working_directory(tmp_path, monkeypatch):
    config_dir = tmp_path / "etc" / "rollsafe"
    config_dir.mkdir(parents=True)
    path = write(config_dir, BASE + "state_dir: ../state\n")
    monkeypatch.chdir(tmp_path)
    loaded = loading.load(Path("etc/rollsafe/rollsafe.yaml"))
    assert loaded.path == path
    assert loaded.path.is_absolute()
    assert loaded.state_dir == (tmp_path / "etc" / "state").resolve()


def test_an_absolute_state_dir_is_kept(tmp_path):
    loaded = loading.load(write(tmp_path, BASE + f"state_dir: {tmp_path / 'elsewhere'}\n"))
    assert loaded.state_dir == (tmp_path / "elsewhere").resolve()


def test_zero_targets_is_fine(tmp_path):
    text = """\
probes:
  - kind: http
    name: health
    url: http://{address}:{port}/health
rules:
  - kind: threshold
    id: slow
    probe: health
    op: ">"
    value: 2
"""
    assert loading.load(write(tmp_path, text)).config.targets == []


def test_a_probe_that_selects_no_target_is_not_checked_against_targets(tmp_path):
    # {port} only exists on web targets; the probe selects db targets, of which there are none.
    text = edit("    interval: 15s\n", "    interval: 15s\n    targets: {labels: {role: db}}\n")
    loaded = loading.load(write(tmp_path, text))
    assert loaded.config.probes[0].targets.labels == {"role": "db"}


def test_yaml_merge_keys_work(tmp_path):
    text = """\
probes:
  - &defaults
    kind: host
    name: cpu
    metric: cpu
    interval: 30s
  - <<: *defaults
    name: memory
    metric: memory
"""
    loaded = loading.load(write(tmp_path, text))
    assert [(p.name, p.interval) for p in loaded.config.probes] == [
        ("cpu", 30.0),
        ("memory", 30.0),
    ]


# --------------------------------------------------------------------------- one mistake each


def test_bad_duration(tmp_path):
    assert problems(tmp_path, edit("interval: 15s", "interval: 5 minutes")) == [
        "10: probes[0].interval: '5 minutes' is not a duration "
        "(expected e.g. 500ms, 30s, 5m, 1h30m, 7d)"
    ]


def test_unknown_kind(tmp_path):
    assert problems(tmp_path, edit("kind: threshold", "kind: treshold")) == [
        "12: rules[0].kind: unknown kind 'treshold' "
        "(expected one of: threshold, ratio, rate, baseline, alert, cohort, regression, bursts, "
        "trend, ceiling, all, any, at_least)"
    ]


def test_unknown_key_suggests_the_closest_field(tmp_path):
    (problem,) = problems(tmp_path, edit("interval: 15s", "intervall: 15s"))
    assert problem.startswith(
        "10: probes[0].intervall: unknown field; did you mean 'interval'? (expected one of: "
    )
    assert "url, method" in problem


def test_unknown_top_level_section(tmp_path):
    (problem,) = problems(tmp_path, edit("rules:", "rule:"))
    assert problem.startswith("11: rule: unknown field; did you mean 'rules'? (expected one of: ")


def test_missing_required_field_points_at_its_mapping(tmp_path):
    text = edit("    url: http://{address}:{port}/health\n", "")
    assert problems(tmp_path, text) == [
        "7: probes[0].url: required field is missing (expected a string)"
    ]


def test_missing_kind(tmp_path):
    assert problems(tmp_path, edit("  - kind: http\n    name: health", "  - name: health")) == [
        "7: probes[0].kind: required field is missing "
        "(expected one of: http, tcp, host, log, data, command, promql, cloudwatch, "
        "aliyun_cms, tencent_monitor, elasticsearch, loki, sls, cls)"
    ]


def test_wrong_type(tmp_path):
    assert problems(tmp_path, edit("value: 2", "value: [2]")) == [
        "17: rules[0].value: got a list (expected a number)"
    ]


def test_unparsable_number(tmp_path):
    assert problems(tmp_path, edit("value: 2", "value: two")) == [
        "17: rules[0].value: 'two' is not a number (expected a number)"
    ]


def test_value_not_among_choices(tmp_path):
    assert problems(tmp_path, edit('op: ">"', "op: '=>'")) == [
        "16: rules[0].op: '=>' is not allowed (expected one of: >, >=, <, <=, ==, !=)"
    ]


def test_number_where_text_is_expected_says_to_quote_it(tmp_path):
    assert problems(
        tmp_path, edit("labels: {role: web}", "labels: {role: web, release: 1.10}")
    ) == ['3: targets[0].labels.release: got the number 1.10 (expected a string: quote it, "1.10")']


def test_yes_no_read_as_booleans_are_explained(tmp_path):
    assert problems(tmp_path, BASE + "policy:\n  approval: no\n") == [
        "23: policy.approval: no (which YAML reads as false) is not allowed "
        "(expected one of: auto, unless_rejected, require_approval)"
    ]


def test_bound_violation(tmp_path):
    assert problems(tmp_path, BASE + "policy:\n  max_concurrent_runs: 0\n") == [
        "23: policy.max_concurrent_runs: the number 0 is too small (expected 1 or more)"
    ]


def test_invalid_name(tmp_path):
    (problem,) = problems(tmp_path, edit("id: web-1", "id: web 1"))
    assert problem.startswith("2: targets[0].id: 'web 1' is not a valid name (expected letters")
    # The target's driver and templates are still fine: no follow-on errors.


def test_union_tags_are_not_part_of_the_path(tmp_path):
    # pydantic reports drivers[0] -> 'local' -> step_timeout; a person wrote no `local` key.
    text = edit("directory: /srv/app/{id}", "directory: /srv/app/{id}\n    step_timeout: soon")
    assert problems(tmp_path, text) == [
        "22: drivers[0].step_timeout: 'soon' is not a duration "
        "(expected e.g. 500ms, 30s, 5m, 1h30m, 7d)"
    ]


def test_a_value_fitting_no_member_of_a_union_gives_one_line(tmp_path):
    text = edit("directory: /srv/app/{id}", "directory: /srv/app/{id}\n    restart: {now: 1}")
    assert problems(tmp_path, text) == [
        "22: drivers[0].restart: got a mapping (expected a string or a list of strings)"
    ]


def test_a_bad_item_inside_a_union_list_is_named_by_index(tmp_path):
    text = edit("directory: /srv/app/{id}", "directory: /srv/app/{id}\n    restart: [systemctl, 5]")
    assert problems(tmp_path, text) == [
        '22: drivers[0].restart[1]: got the number 5 (expected a string: quote it, "5")'
    ]


def test_whole_entry_check_points_at_the_entry(tmp_path):
    text = edit("    directory: /srv/app/{id}\n", "")
    assert problems(tmp_path, text) == [
        "19: drivers[0]: give `directory` or `rollback` (or both): nothing to roll back"
    ]


def test_entry_that_is_not_a_mapping(tmp_path):
    assert problems(tmp_path, BASE + "notifiers: [log]\n") == [
        "22: notifiers[0]: got 'log' (expected a mapping with a kind: one of webhook, log, "
        "slack, wecom, dingtalk, feishu, email)"
    ]


def test_duplicate_id_names_the_second_entry(tmp_path):
    text = edit("    driver: app\n", "    driver: app\n  - id: web-1\n")
    assert problems(tmp_path, text) == [
        "6: targets[1].id: duplicate target id 'web-1' "
        "(expected each id once; targets[0] at line 2 has it already)"
    ]


def test_duplicate_yaml_key(tmp_path):
    assert problems(tmp_path, edit("interval: 15s", "interval: 15s\n    interval: 30s")) == [
        "11: probes[0].interval: duplicate key (expected each key once; it is first set at "
        "line 10, and YAML would silently keep only the last)"
    ]


def test_dangling_driver_reference(tmp_path):
    assert problems(tmp_path, edit("driver: app", "driver: ap")) == [
        "5: targets[0].driver: unknown driver 'ap'; did you mean 'app'? "
        "(expected one of the drivers: app)"
    ]


def test_driver_reference_without_any_driver(tmp_path):
    text = BASE[: BASE.index("drivers:")]
    assert problems(tmp_path, text) == [
        "5: targets[0].driver: unknown driver 'app' "
        "(expected the name of an entry in drivers, and none is defined)"
    ]


def test_dangling_probe_reference_in_a_rule(tmp_path):
    assert problems(tmp_path, edit("probe: health", "probe: helth")) == [
        "14: rules[0].probe: unknown probe 'helth'; did you mean 'health'? "
        "(expected one of the probes: health)"
    ]


COMPOSITES = """\
  - kind: all
    id: both
    rules: [slow, either]
  - kind: any
    id: either
    rules: [both]
  - kind: at_least
    id: me
    count: 1
    rules: [me]
"""


def test_composite_cycles(tmp_path):
    text = edit("    value: 2\n", "    value: 2\n" + COMPOSITES)
    assert problems(tmp_path, text) == [
        "20: rules[1].rules[1]: composite rules refer to each other in a loop: "
        "both -> either -> both (expected every composite to be built only from rules that do "
        "not depend on it)",
        "27: rules[3].rules[0]: composite rules refer to each other in a loop: me -> me "
        "(expected every composite to be built only from rules that do not depend on it)",
    ]


def test_composite_naming_an_unknown_rule(tmp_path):
    composite = "  - kind: all\n    id: both\n    rules:\n      - slow\n      - slwo\n"
    text = edit("    value: 2\n", "    value: 2\n" + composite)
    assert problems(tmp_path, text) == [
        "22: rules[1].rules[1]: unknown rule 'slwo'; did you mean 'slow'? "
        "(expected one of the rules: slow, both)"
    ]


def test_bad_regex(tmp_path):
    text = edit("interval: 15s", "interval: 15s\n    body_match: '(ok'")
    assert problems(tmp_path, text) == [
        "11: probes[0].body_match: not a valid regular expression: missing ), unterminated "
        "subpattern at position 0 (expected a Python regular expression)"
    ]


def test_bad_regex_in_a_list(tmp_path):
    log = "  - kind: log\n    name: app\n    path: /var/log/{id}.log\n    patterns: [ok, '[a-']\n"
    text = edit("rules:\n", log + "rules:\n")
    assert problems(tmp_path, text) == [
        "14: probes[1].patterns[1]: not a valid regular expression: unterminated character set "
        "at position 0 (expected a Python regular expression)"
    ]


def test_unknown_template_variable(tmp_path):
    assert problems(tmp_path, edit("{port}/health", "{prot}/health")) == [
        "9: probes[0].url: unknown template variable {prot} for target 'web-1' "
        "(expected one of the variables of 'web-1': address, id, port, role)"
    ]


def test_template_variable_missing_on_some_targets_names_them_all(tmp_path):
    more = "  - id: db-1\n    labels: {role: db}\n  - id: db-2\n"
    text = edit("    driver: app\n", "    driver: app\n" + more)
    assert problems(tmp_path, text) == [
        "12: probes[0].url: unknown template variable {port} for targets 'db-1', 'db-2' "
        "(expected one of the variables of 'db-1': address, id, role)"
    ]


def test_driver_templates_are_checked_for_the_targets_using_it(tmp_path):
    assert problems(tmp_path, edit("/srv/app/{id}", "/srv/app/{release}")) == [
        "21: drivers[0].directory: unknown template variable {release} for target 'web-1' "
        "(expected one of the variables of 'web-1': address, id, port, role)"
    ]


def test_malformed_template(tmp_path):
    assert problems(tmp_path, edit("{port}/health", "{port/health")) == [
        "9: probes[0].url: not a valid template: expected '}' before end of string "
        "(expected {name} placeholders; write {{ and }} for literal braces)"
    ]


def test_command_that_cannot_be_split(tmp_path):
    command = '  - kind: command\n    name: depth\n    command: "queue-stats \'x"\n'
    text = edit("rules:\n", command + "rules:\n")
    assert problems(tmp_path, text) == [
        "13: probes[1].command: cannot be split into words: no closing quotation "
        "(expected shell-style quoting, or a list of words)"
    ]


# --------------------------------------------------------------------------- the file itself


def test_yaml_syntax_error(tmp_path):
    assert problems(tmp_path, edit("    interval: 15s", "    interval: 15s: 30s")) == [
        "10: (yaml): mapping values are not allowed here"
    ]


def test_unquoted_template_gets_a_hint(tmp_path):
    assert problems(tmp_path, edit("url: http://{address}", "url: {address}")) == [
        "9: (yaml): expected <block end>, but found '<scalar>' (while parsing a block mapping, "
        'line 7); quote a value that starts with a {template} or has one in [...], e.g. "{id}"'
    ]


def test_unquoted_template_read_as_a_mapping_is_explained(tmp_path):
    command = "  - kind: command\n    name: depth\n    command:\n      - {id}\n"
    assert problems(tmp_path, edit("rules:\n", command + "rules:\n")) == [
        "14: probes[1].command[0]: got a mapping (an unquoted {name} is YAML for a mapping: "
        'quote it, "{name}") (expected a string)'
    ]


def test_unclosed_quote(tmp_path):
    assert problems(tmp_path, edit('op: ">"', 'op: ">')) == [
        "22: (yaml): found unexpected end of stream (while scanning a quoted scalar, line 16)"
    ]


def test_tab_indentation(tmp_path):
    assert problems(tmp_path, edit("    op:", "\top:")) == [
        "16: (yaml): found character '\\t' that cannot start any token "
        "(while scanning for the next token)"
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "null\n"])
def test_empty_file(tmp_path, text):
    assert problems(tmp_path, text) == [
        "1: (file): the file is empty (expected a mapping with targets, probes, rules and drivers)"
    ]


def test_not_a_mapping(tmp_path):
    assert problems(tmp_path, "- a\n- b\n") == ["1: (root): got a list (expected a mapping)"]


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)
    assert caught.value.problems == [
        f"{path}: (file): cannot read: No such file or directory (expected a readable YAML file)"
    ]


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(tmp_path)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{tmp_path}: (file): cannot read: ")


def test_not_utf8(tmp_path):
    path = tmp_path / "rollsafe.yaml"
    path.write_bytes(b"targets: []\n\xff\xfe\n")
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(path)
    assert caught.value.problems == [
        f"{path}: (file): not UTF-8 text (invalid start byte at byte 12)"
    ]


def test_problem_lines_use_the_path_as_given(tmp_path, monkeypatch):
    write(tmp_path, edit("interval: 15s", "interval: soon"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.ConfigError) as caught:
        loading.load(Path("rollsafe.yaml"))
    assert caught.value.problems[0].startswith("rollsafe.yaml:10: probes[0].interval: ")
    assert str(caught.value) == "rollsafe.yaml: 1 problem"


# --------------------------------------------------------------------------- many at once


def test_every_mistake_in_a_file_is_reported_in_line_order(tmp_path):
    text = """\
policy:
  approval: maybe
targets:
  - id: web-1
    driver: nowhere
  - id: web-1
probes:
  - kind: http
    name: health
    url: http://{address}:{port}/
    interval: 5 minutes
  - kind: tcp
    name: port
    port: [22]
rules:
  - kind: treshold
    id: a
  - kind: rate
    id: b
    probe: missing
    above: 1
  - kind: any
    id: c
    rules: [c]
"""
    found = problems(tmp_path, text)
    assert [p.split(": ")[0:2] for p in found] == [
        ["2", "policy.approval"],
        ["5", "targets[0].driver"],
        ["6", "targets[1].id"],
        ["11", "probes[0].interval"],
        ["14", "probes[1].port"],
        ["16", "rules[0].kind"],
        ["20", "rules[1].probe"],
        ["24", "rules[2].rules[0]"],
    ]
    assert "14: probes[1].port: got a list (expected a whole number or a string)" in found


# --------------------------------------------------------------------------- secrets


def test_secret_values_are_never_echoed(tmp_path):
    text = edit(
        "    interval: 15s\n",
        "    interval: 15s\n    headers: {X-Api-Token: 987654321}\n",
    )
    text += "store:\n  password: hunter2hunter2\n"
    found = problems(tmp_path, text)
    assert found == [
        "11: probes[0].headers.X-Api-Token: got a hidden value (expected a string)",
        "24: store.password: unknown field; did you mean 'password_env'? "
        "(expected one of: url, password_env, lease_ttl, lease_renew)",
    ]
    assert not any("987654321" in p or "hunter2" in p for p in found)


def test_secret_values_are_hidden_in_validator_messages(tmp_path):
    text = BASE + "notifiers:\n  - kind: webhook\n    name: hook\n    url: http://x\n"
    text += "    secret_env: [s3cr3t-value]\n"
    found = problems(tmp_path, text)
    assert found == ["26: notifiers[0].secret_env: got a list (expected a string)"]
    assert not any("s3cr3t" in p for p in found)


def test_rendered_url_must_be_absolute_http(tmp_path):
    assert problems(
        tmp_path, edit("url: http://{address}:{port}/health", "url: '{address}:{port}/health'")
    ) == [
        "9: probes[0].url: for target 'web-1': not an absolute http(s) URL "
        "(expected e.g. http://{address}:{port}/health)"
    ]


def test_tcp_port_must_render_to_a_port_number(tmp_path):
    tcp = "  - kind: tcp\n    name: port\n    port: '{role}'\n  - kind: tcp\n    name: big\n"
    tcp += "    port: 70000\n"
    text = edit("rules:\n", tcp + "rules:\n")
    assert problems(tmp_path, text) == [
        "13: probes[1].port: for target 'web-1': the port renders to 'web' "
        "(expected a number from 1 to 65535)",
        "16: probes[2].port: 70000 is not a port (expected 1 to 65535)",
    ]
