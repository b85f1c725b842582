"""The pure readers of tool outputs, on outputs in the tools' formats (see outputs/)."""

from __future__ import annotations

import pytest
from tool_outputs import fail, output

from rollsafe.domain import errors
from rollsafe.execute.recipes import parsing


def test_snapper_ascii_table() -> None:
    rows = parsing.parse_snapper_list(output("snapper_list_created.txt"))
    assert [r.number for r in rows] == [0, 1, 40, 41, 42]
    first = rows[1]
    # Captured on a plain mount: no snapshot is the default or the active one.
    assert (first.default, first.active, first.description) == (
        False,
        False,
        "first root filesystem",
    )
    assert [r.type for r in rows] == ["single", "single", "pre", "post", "pre"]
    assert rows[-1].description == "rollsafe rp-abc123"
    assert rows[3].description == "apt"


def test_snapper_unicode_table_real() -> None:
    # ``snapper --table-style 1 list``: the same rows as the ASCII table.
    unicode = parsing.parse_snapper_list(output("snapper_list_unicode.txt"))
    assert unicode == parsing.parse_snapper_list(output("snapper_list_created.txt"))


def test_snapper_unicode_table_markers() -> None:
    rows = {r.number: r for r in parsing.parse_snapper_list(output("snapper_list_rolled_back.txt"))}
    assert rows[1].active
    assert not rows[1].default
    assert rows[44].default
    assert not rows[44].active
    assert rows[44].description == "writable copy of #42"
    booted = {r.number: r for r in parsing.parse_snapper_list(output("snapper_list_rebooted.txt"))}
    assert booted[44].default
    assert booted[44].active


def test_snapper_csvout() -> None:
    # snapper 0.10.4 starts its CSV with ``config,subvolume``, not ``number``.
    real = parsing.parse_snapper_list(output("snapper_list.csv"))
    assert real == parsing.parse_snapper_list(output("snapper_list_created.txt"))
    # The markers, in the same column layout (rollback cannot run on the capture machine).
    header = "config,subvolume,number,default,active,type,pre-number,date,user,used-space,"
    header += "cleanup,description,userdata"
    rolled = (
        header
        + "\n"
        + "\n".join(
            [
                "root,/,1,no,yes,single,,2024-03-04 10:02:11,root,,,first root filesystem,",
                "root,/,42,no,no,pre,,2024-03-06 09:00:03,root,,number,rollsafe rp-abc123,",
                'root,/,44,yes,no,single,,2024-03-06 09:41:27,root,,,"writable copy of #42",',
            ]
        )
    )
    rows = {r.number: r for r in parsing.parse_snapper_list(rolled)}
    assert rows[44].default
    assert not rows[44].active
    assert rows[1].active
    assert rows[44].description == "writable copy of #42"


def test_snapper_garbage_is_an_error() -> None:
    with pytest.raises(errors.DriverError, match="no table"):
        parsing.parse_snapper_list("Unknown config.\n")


def test_snapper_rollback_and_print_number() -> None:
    assert parsing.parse_snapper_rollback(output("snapper_rollback.txt")) == 44
    assert parsing.parse_snapper_rollback("") is None
    assert parsing.parse_print_number(output("snapper_create_print_number.txt"), what="x") == 42
    with pytest.raises(errors.DriverError):
        parsing.parse_print_number("oops", what="x")


def test_lvs_json() -> None:
    lvs = {lv.name: lv for lv in parsing.parse_lvs(output("lvs_snapshot.json"))}
    snap = lvs["rollsafe-rp-abc123"]
    assert (snap.vg, snap.origin, snap.data_percent, snap.merging) == ("vg0", "root", 3.52, False)
    assert not snap.invalid
    assert snap.active
    assert lvs["root"].open
    assert lvs["root"].data_percent is None
    invalid = {lv.name: lv for lv in parsing.parse_lvs(output("lvs_snapshot_invalid.json"))}
    assert invalid["rollsafe-rp-abc123"].invalid
    pending = {lv.name: lv for lv in parsing.parse_lvs(output("lvs_merge_pending.json"))}
    assert pending["rollsafe-rp-abc123"].merging


def test_lvs_not_json() -> None:
    with pytest.raises(errors.DriverError, match="lvs"):
        parsing.parse_lvs('  Volume group "vg0" not found\n')


def test_dpkg_query_keeps_installed_only() -> None:
    found = parsing.parse_dpkg_query(output("dpkg_query.txt"))
    assert found["libc6:i386"] == "2.36-9+deb12u4"
    assert found["nginx"] == "1.22.1-9"
    assert "popularity-contest" not in found  # "rc": only configuration files left
    assert len(found) == 10


def test_package_diff() -> None:
    before = parsing.parse_dpkg_query(output("dpkg_query.txt"))
    after = parsing.parse_dpkg_query(output("dpkg_query_upgraded.txt"))
    diff = parsing.package_diff(before, after)
    assert diff.install == (
        ("libssl3:amd64", "3.0.11-1~deb12u2"),
        ("nginx", "1.22.1-9"),
        ("nginx-common", "1.22.1-9"),  # half-configured now ("iU"): installed again
        ("openssl", "3.0.11-1~deb12u2"),
    )
    assert diff.remove == ("libnginx-mod-stream",)
    assert parsing.package_diff(before, before).empty
    assert "and" in parsing.PackageDiff(install=(("a", "1"),) * 12, remove=()).describe()


def test_rpm_qa_versions_and_pseudo_packages() -> None:
    found = parsing.parse_rpm_qa(output("rpm_qa.txt"))
    assert found["kernel"] == ["0:6.7.6-200.fc39.x86_64", "0:6.7.7-200.fc39.x86_64"]
    assert found["tzdata"] == ["0:2024a-2.fc39.noarch"]  # "(none)" epoch is 0
    assert "gpg-pubkey" not in found
    scoped = parsing.parse_rpm_qa(output("rpm_q_scoped.txt"))
    assert scoped == {"nginx": ["1:1.24.0-4.fc39.x86_64"]}
    lines = parsing.rpm_set_diff(found, parsing.parse_rpm_qa(output("rpm_qa_upgraded.txt")))
    assert lines == [
        "kernel: 0:6.7.6-200.fc39.x86_64, 0:6.7.7-200.fc39.x86_64 -> 0:6.7.6-200.fc39.x86_64, "
        "0:6.7.7-200.fc39.x86_64, 0:6.7.9-200.fc39.x86_64",
        "nginx: 1:1.24.0-4.fc39.x86_64 -> 1:1.24.0-5.fc39.x86_64",
        "nginx-core: absent -> 1:1.24.0-5.fc39.x86_64",
    ]


def test_dnf_history_formats() -> None:
    assert parsing.parse_dnf_last_transaction(output("dnf_history_list.txt")) == 13
    assert parsing.parse_dnf_last_transaction(output("dnf_history_list_upgraded.txt")) == 14
    assert parsing.parse_dnf_last_transaction(output("dnf5_history_list.txt")) == 3
    assert parsing.parse_dnf_last_transaction("No transactions\n") is None


def test_rpm_ostree_status() -> None:
    staged = parsing.parse_rpm_ostree_status(output("rpm_ostree_status_staged.json"))
    assert staged.booted is not None
    assert staged.booted.version == "39.20240210.3.0"
    assert staged.next_boot is not None
    assert staged.next_boot.version == "39.20240225.3.0"
    # With an update pending, rollback makes the booted deployment the default again.
    assert staged.rollback == staged.booted
    upgraded = parsing.parse_rpm_ostree_status(output("rpm_ostree_status_upgraded.json"))
    assert upgraded.rollback is not None
    assert upgraded.rollback.version == "39.20240210.3.0"


def test_bootc_status() -> None:
    upgraded = parsing.parse_bootc_status(output("bootc_status_upgraded.json"))
    assert upgraded.booted is not None
    assert upgraded.booted.ident.startswith("sha256:9e1f")
    assert upgraded.rollback is not None
    assert upgraded.rollback.ident.startswith("sha256:3b7d")
    assert upgraded.booted.checksum.startswith("c41d")
    queued = parsing.parse_bootc_status(output("bootc_status_queued.json"))
    assert queued.next_boot == upgraded.rollback
    staged = parsing.parse_bootc_status(output("bootc_status_staged.json"))
    assert staged.next_boot is not None
    assert staged.next_boot.ident.startswith("sha256:9e1f")
    with pytest.raises(errors.DriverError):
        parsing.parse_bootc_status('{"apiVersion": "x"}')


def test_names_and_errors() -> None:
    assert parsing.snapshot_name("rp-abc123") == "rollsafe-rp-abc123"
    assert parsing.snapshot_name("a b/c:d") == "rollsafe-a_b_c_d"
    with pytest.raises(errors.DriverError, match="exit code 5: noise\nboom"):
        parsing.require_ok(fail(5, "noise\nboom\n"), what="thing")
