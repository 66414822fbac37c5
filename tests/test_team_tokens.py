"""Tokens: shown once, kept hashed, roles ordered, revocation final."""

from __future__ import annotations

from pathlib import Path

import pytest

from expgraph.team.gate import anonymous_read_allowed
from expgraph.team.tokens import ROLES, TokenError, TokenStore


def test_a_token_is_kept_only_as_its_hash(tmp_path: Path) -> None:
    tokens = TokenStore.beside(tmp_path)
    secret = tokens.create("alice", "contributor", ["vision"])
    assert secret.encode() not in (tmp_path / "tokens.sqlite").read_bytes()
    found = tokens.verify(secret)
    assert found is not None and (found.name, found.role, found.projects) == ("alice", "contributor", ("vision",))
    assert tokens.verify(secret + "x") is None
    assert [t.name for t in tokens.list()] == ["alice"]


def test_roles_are_ordered_and_projects_bind_contributors() -> None:
    tokens = TokenStore(None)
    by_role = {role: tokens.verify(tokens.create(role, role)) for role in ROLES}
    assert [r for r in ROLES if by_role["contributor"].allows(r)] == ["reader", "contributor"]
    assert all(by_role["admin"].allows(r) for r in ROLES)
    vision = tokens.verify(tokens.create("v", "contributor", ["vision"]))
    assert vision.may_write_project("vision") and not vision.may_write_project("nlp")
    assert by_role["contributor"].may_write_project("nlp")  # no project named: any


def test_revoke_and_refusals(tmp_path: Path) -> None:
    tokens = TokenStore.beside(tmp_path)
    secret = tokens.create("bob", "reader")
    with pytest.raises(TokenError, match="exists already"):
        tokens.create("bob", "admin")
    with pytest.raises(TokenError, match="unknown role"):
        tokens.create("carol", "owner")
    tokens.revoke("bob")
    assert tokens.verify(secret) is None
    with pytest.raises(TokenError, match="no token named"):
        tokens.revoke("bob")


def test_anonymous_read_policy() -> None:
    assert anonymous_read_allowed("auto", "127.0.0.1") and not anonymous_read_allowed("auto", "0.0.0.0")
    assert anonymous_read_allowed("on", "0.0.0.0") and not anonymous_read_allowed("off", "127.0.0.1")
    with pytest.raises(ValueError, match="anonymous_read"):
        anonymous_read_allowed("maybe", "127.0.0.1")


def test_settings_never_show_the_token() -> None:
    from expgraph.settings import load_settings

    shown = load_settings({"token": "egt_secret"}, environ={}).as_dict()
    assert shown["token"]["value"] == "(set)" and "egt_secret" not in str(shown)
