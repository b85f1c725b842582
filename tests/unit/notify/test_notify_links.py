"""Signed approval links: genuine, expired, forged, for another run, malformed."""

from __future__ import annotations

import urllib.parse

import pytest

from rollsafe.config import models
from rollsafe.domain import errors
from rollsafe.notify import links

KEY = b"0123456789abcdef-link-key"
NOW = 1_700_000_000.0


def test_a_genuine_link_verifies_and_names_its_run_action_and_nonce():
    token = links.mint(KEY, run_id="run-1", action="approve", expires=NOW + 600)
    claim = links.verify(KEY, token, run_id="run-1", action="approve", now=NOW + 599)
    assert (claim.run_id, claim.action, claim.expires) == ("run-1", "approve", NOW + 600)
    assert claim.nonce
    # Two links for the same run are different links (their nonces differ).
    other = links.mint(KEY, run_id="run-1", action="approve", expires=NOW + 600)
    assert links.verify(KEY, other, run_id="run-1", action="approve", now=NOW).nonce != claim.nonce


def test_an_expired_link_is_refused():
    token = links.mint(KEY, run_id="run-1", action="approve", expires=NOW + 600)
    with pytest.raises(links.LinkRejected, match="expired") as caught:
        links.verify(KEY, token, run_id="run-1", action="approve", now=NOW + 600)
    assert caught.value.reason == "expired"


def test_a_link_is_bound_to_its_run_and_action():
    token = links.mint(KEY, run_id="run-1", action="reject", expires=NOW + 600)
    with pytest.raises(links.LinkRejected) as wrong_run:
        links.verify(KEY, token, run_id="run-2", action="reject", now=NOW)
    assert wrong_run.value.reason == "wrong_run"
    with pytest.raises(links.LinkRejected) as wrong_action:
        links.verify(KEY, token, run_id="run-1", action="approve", now=NOW)
    assert wrong_action.value.reason == "wrong_action"


def test_another_key_or_an_edited_payload_breaks_the_signature():
    token = links.mint(KEY, run_id="run-1", action="approve", expires=NOW + 600)
    with pytest.raises(links.LinkRejected) as caught:
        links.verify(b"another-key-of-16-bytes", token, run_id="run-1", action="approve", now=NOW)
    assert caught.value.reason == "signature"
    # Swap in the payload of a link for another run, keep the signature.
    _body, _, signature = token.partition(".")
    other = links.mint(KEY, run_id="run-2", action="approve", expires=NOW + 600)
    forged = other.partition(".")[0] + "." + signature
    with pytest.raises(links.LinkRejected) as caught:
        links.verify(KEY, forged, run_id="run-2", action="approve", now=NOW)
    assert caught.value.reason == "signature"


@pytest.mark.parametrize("token", ["", "abc", "abc.", ".abc", "a.b.c", "ünï.cøde", "!!!.###"])
def test_malformed_tokens_are_refused(token):
    with pytest.raises(links.LinkRejected):
        links.verify(KEY, token, run_id="run-1", action="approve", now=NOW)


def test_the_maker_builds_urls_that_expire_at_the_deadline_at_the_latest():
    maker = links.LinkMaker(KEY, public_url="https://rs.example.com/", ttl=3600)
    url = maker.url("run-1", "approve", now=NOW, until=NOW + 300)
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "https"
    assert parts.netloc == "rs.example.com"
    assert parts.path == "/links/run-1/approve"
    token = urllib.parse.parse_qs(parts.query)["token"][0]
    claim = links.verify(KEY, token, run_id="run-1", action="approve", now=NOW)
    assert claim.expires == NOW + 300


def test_a_short_key_is_a_configuration_error():
    with pytest.raises(errors.ConfigError, match="16 bytes"):
        links.LinkMaker(b"short", public_url="https://x", ttl=60)


def test_the_key_comes_from_the_environment_or_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv("LINK_KEY", "k" * 32)
    assert links.load_key(models.Access(link_key_env="LINK_KEY"), base_dir=tmp_path) == b"k" * 32
    (tmp_path / "link.key").write_text("f" * 40 + "\n")
    access = models.Access(link_key_file="link.key", public_url="https://x")
    assert links.load_key(access, base_dir=tmp_path) == b"f" * 40
    assert links.maker_for(access, base_dir=tmp_path) is not None
    assert links.maker_for(models.Access(), base_dir=tmp_path) is None
    monkeypatch.setenv("LINK_KEY", "")
    with pytest.raises(errors.ConfigError, match="LINK_KEY"):
        links.load_key(models.Access(link_key_env="LINK_KEY"), base_dir=tmp_path)
