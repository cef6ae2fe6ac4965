"""The key format (`tenant=key`, bare keys), and binds the server refuses to start on."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from orchestra.server.auth import Access, AuthConfigError, Tenants
from orchestra.server.config import ServerConfig
from tests.conftest import ROOT


def test_keys_are_bound_to_named_tenants_and_bare_keys_to_a_hash_prefix() -> None:
    tenants = Tenants.parse(" acme=k1 , globex=k2=x, bare-key, padded== ", "VAR")
    assert tenants.tenant_of("k1") == "acme"
    assert tenants.tenant_of("k2=x") == "globex"
    assert tenants.tenant_of("bare-key") == f"key-{hashlib.sha256(b'bare-key').hexdigest()[:12]}"
    assert tenants.tenant_of("padded==") == f"key-{hashlib.sha256(b'padded==').hexdigest()[:12]}"
    assert tenants.tenant_of("k3") is None
    assert tenants.tenant_of("acme=k1") is None


def test_a_bad_key_list_is_refused_naming_the_variable_and_never_the_key() -> None:
    with pytest.raises(AuthConfigError, match=r"VAR: in entry 1 .* write it as `tenant=key`") as bad:
        Tenants.parse("Secret+Part=rest", "VAR")
    assert "Secret" not in str(bad.value)
    with pytest.raises(AuthConfigError, match="repeats a key"):
        Tenants.parse("a=same,b=same", "VAR")


def test_no_keys_means_tenant_local_and_only_a_loopback_bind() -> None:
    access = Access(ServerConfig(), {})
    assert access.tenant_for(None, None) == "local"
    access.check_bind("127.0.0.1")
    with pytest.raises(AuthConfigError, match="ORCHESTRA_SERVER_KEYS"):
        access.check_bind("192.0.2.10")
    Access(ServerConfig.model_validate({"auth": {"allow_anonymous": True}}), {}).check_bind("192.0.2.10")
    keyed = Access(ServerConfig(), {"ORCHESTRA_SERVER_KEYS": "acme=k1"})
    with pytest.raises(AuthConfigError, match="allowed_hosts"):
        keyed.check_bind("0.0.0.0")
    assert keyed.tenant_for(None, "Bearer k1") == "acme"
    assert keyed.tenant_for("k1", None) == "acme"
    assert keyed.tenant_for(None, None) is None


def test_orchestra_serve_refuses_a_public_bind_without_keys(tmp_path: object) -> None:
    env = {"PATH": "/usr/bin:/bin", "ORCHESTRA_DATA_DIR": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestra", "serve", "--host", "192.0.2.10", "--port", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "without API keys" in done.stderr
