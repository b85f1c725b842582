"""The apt and dnf recipes against recorded-format dpkg-query, rpm and dnf outputs."""

from __future__ import annotations

import re

import pytest
from tool_outputs import fail, from_file, ok, output

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.execute.recipes import packages, parsing, recipes
from rollsafe.reach.transports import transporting
from rollsafe.testing import ScriptedTransport

TARGET = models.Target(id="web-1")


def on(transport: transporting.Transport) -> recipes.Host:
    """``TARGET`` reached through ``transport``."""
    return recipes.Host(transport, TARGET)


DPKG = "dpkg-query -W '-f=${binary:Package}\\t${Version}\\t${db:Status-Abbrev}\\n'"
RPM_QA = "rpm -qa --qf '%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}.%{ARCH}\\n'"


def apt(**fields: object) -> packages.AptRecipe:
    recipe = packages.make(models.AptRecipe.model_validate({"kind": "apt", **fields}))
    assert isinstance(recipe, packages.AptRecipe)
    return recipe


def dnf(**fields: object) -> packages.DnfRecipe:
    recipe = packages.make(models.DnfRecipe.model_validate({"kind": "dnf", **fields}))
    assert isinstance(recipe, packages.DnfRecipe)
    return recipe


async def test_apt_checkpoint_records_installed_packages() -> None:
    t = ScriptedTransport().on("dpkg-query", from_file("dpkg_query.txt"))
    data = await apt().checkpoint(on(t), point_id="rp-1", limit_s=60)
    assert t.commands == [packages.paged(DPKG, page=0)]
    assert data["scope"] is None
    assert data["packages"] == parsing.parse_dpkg_query(output("dpkg_query.txt"))


async def test_apt_scoped_query_tolerates_unknown_names() -> None:
    t = ScriptedTransport().on("dpkg-query", ok("nginx\t1.22.1-9\tii \n"))
    data = await apt(packages=["nginx", "nginx-extras"]).checkpoint(
        on(t), point_id="rp-1", limit_s=60
    )
    assert data == {"packages": {"nginx": "1.22.1-9"}, "scope": ["nginx", "nginx-extras"]}
    assert t.commands == [packages.paged(DPKG + " nginx nginx-extras", page=0, ok_status=1)]


async def test_apt_install_step_downgrades_and_removes_then_is_idempotent() -> None:
    r = apt()
    data = {"packages": parsing.parse_dpkg_query(output("dpkg_query.txt")), "scope": None}
    assert r.rollback_steps(data) == ["install"]
    t = ScriptedTransport().on("dpkg-query", from_file("dpkg_query_upgraded.txt"))
    t.on("apt-get", ok("Setting up nginx (1.22.1-9) ...\n"))
    text = await r.rollback(on(t), data, step="install", limit_s=600)
    assert text.startswith("reinstalled 4, removed 1")
    assert t.commands[-1] == (
        "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades "
        "-o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "
        "'libssl3:amd64=3.0.11-1~deb12u2' nginx=1.22.1-9 nginx-common=1.22.1-9 "
        "'openssl=3.0.11-1~deb12u2' libnginx-mod-stream-"
    )
    with pytest.raises(errors.VerificationFailed, match=re.escape("nginx -> 1.22.1-9")):
        await r.verify(on(t), data, limit_s=60)

    done = ScriptedTransport().on("dpkg-query", from_file("dpkg_query.txt"))
    assert "already match" in await r.rollback(on(done), data, step="install", limit_s=600)
    assert done.sent("apt-get") == []
    assert "10 packages match" in await r.verify(on(done), data, limit_s=60)


async def test_apt_failure_and_precheck() -> None:
    data = {"packages": {"nginx": "1.22.1-9"}, "scope": ["nginx"]}
    t = ScriptedTransport().on("dpkg-query", ok("nginx\t1.22.1-9+deb12u1\tii \n"))
    t.on("apt-get", fail(100, "E: Version '1.22.1-9' for 'nginx' was not found\n"))
    with pytest.raises(
        errors.DriverError, match=re.escape("Version '1.22.1-9' for 'nginx' was not found")
    ):
        await apt(packages=["nginx"]).rollback(on(t), data, step="install", limit_s=600)
    t.on("command -v", fail(1))
    with pytest.raises(errors.PrecheckFailed):
        await apt().precheck(on(t), data, limit_s=60)


async def test_dnf_checkpoint_undo_and_verify() -> None:
    r = dnf()
    t = ScriptedTransport().on("history list", from_file("dnf_history_list.txt"))
    t.on("rpm -qa", from_file("rpm_qa.txt"))
    data = await r.checkpoint(on(t), point_id="rp-1", limit_s=60)
    assert t.commands == ["dnf -q history list", packages.paged(RPM_QA, page=0)]
    assert data["transaction"] == 13
    assert data["packages"]["nginx"] == ["1:1.24.0-4.fc39.x86_64"]
    assert r.rollback_steps(data) == ["undo"]

    t.on("history info 13", ok("Transaction ID : 13\n"))
    await r.precheck(on(t), data, limit_s=60)

    t.on("rpm -qa", from_file("rpm_qa_upgraded.txt"))
    t.on("history list", from_file("dnf_history_list_upgraded.txt"))
    t.on("history rollback", ok("Complete!\n"))
    text = await r.rollback(on(t), data, step="undo", limit_s=600)
    assert "after 13 (last was 14)" in text
    assert t.commands[-1] == "dnf -y history rollback 13"
    with pytest.raises(errors.VerificationFailed, match="nginx-core: absent"):
        await r.verify(on(t), data, limit_s=60)

    # Repeated once the set is back (gpg keys imported meanwhile do not count).
    t.on("rpm -qa", ok(output("rpm_qa.txt") + "gpg-pubkey\t(none):a15b79cc-63d04c2c.(none)\n"))
    assert "already match" in await r.rollback(on(t), data, step="undo", limit_s=600)
    assert len(t.sent("history rollback")) == 1
    assert "match the restore point" in await r.verify(on(t), data, limit_s=60)


async def test_dnf_refuses_what_it_cannot_undo() -> None:
    r = dnf(packages=["nginx", "nginx-core"])
    t = ScriptedTransport().on("history list", ok("No transactions\n"))
    with pytest.raises(errors.DriverError, match="no transaction"):
        await r.checkpoint(on(t), point_id="rp-1", limit_s=60)

    data = {"transaction": 13, "packages": {"nginx": ["1:1.24.0-3.fc39.x86_64"]}, "scope": None}
    t.on("history list", from_file("dnf_history_list.txt"))
    t.on("rpm -q ", from_file("rpm_q_scoped.txt"))
    with pytest.raises(errors.DriverError, match="changed outside dnf"):
        await r.rollback(on(t), data, step="undo", limit_s=600)
    assert ' nginx nginx-core); rc=$?; [ "$rc" -le 255 ]' in t.sent("rpm -q ")[-1]
    t.on("history info", fail(1, "No transaction which matches: 13\n"))
    with pytest.raises(errors.PrecheckFailed, match="not known"):
        await r.precheck(on(t), data, limit_s=60)


async def test_long_lists_are_read_in_pages_and_cut_output_is_refused() -> None:
    lines = [f"pkg{i:04d}\t1.{i}\tii \n" for i in range(packages.PAGE_LINES + 10)]
    t = ScriptedTransport()
    t.on("sed -n '1,150p'", ok("".join(lines[: packages.PAGE_LINES])))
    t.on("sed -n '151,300p'", ok("".join(lines[packages.PAGE_LINES :])))
    data = await apt().checkpoint(on(t), point_id="rp-1", limit_s=60)
    assert len(data["packages"]) == packages.PAGE_LINES + 10
    assert len(t.commands) == 2

    cut = ScriptedTransport().on(
        "dpkg-query",
        transporting.CommandResult(
            exit_status=0, stdout="adduser\t3.134\tii \n", stderr="", duration=0.1, truncated=True
        ),
    )
    with pytest.raises(errors.DriverError, match="cut at the transport's output limit"):
        await apt().checkpoint(on(cut), point_id="rp-1", limit_s=60)
