"""`assent up`'s internal token keys: generated once and kept, each process given its own
alone with every public key, and a malformed key refused before anything starts."""

import json
from pathlib import Path

import pytest

from services.kit.internal_token import (
    TokenSigner,
    TokenVerifier,
    load_private_key,
    public_keys_for,
)
from services.stack import (
    DATABASE_COMPONENTS,
    INTERNAL_PUBLIC_KEYS,
    StackError,
    check_settings,
    environment_for,
    internal_signing_key,
    stack_environment,
)

NAMES = [component.name for component in DATABASE_COMPONENTS]


def test_each_process_gets_its_own_key_and_every_public_key(tmp_path: Path) -> None:
    env = stack_environment(data_dir=tmp_path, port=8000, base={})

    for component in DATABASE_COMPONENTS:
        own = environment_for(component, env)
        keys = {name for name in own if name.endswith("_INTERNAL_SIGNING_KEY")}
        assert keys == {internal_signing_key(component.name)}, component.name
        assert json.loads(own[INTERNAL_PUBLIC_KEYS]).keys() == set(NAMES)


def test_a_token_signed_with_a_processs_key_verifies_with_its_published_key(
    tmp_path: Path,
) -> None:
    env = stack_environment(data_dir=tmp_path, port=8000, base={})
    published = json.loads(env[INTERNAL_PUBLIC_KEYS])
    setting = internal_signing_key("licensing")
    signer = TokenSigner(load_private_key(env[setting], setting=setting), issuer="licensing")

    token = signer.sign_as_service(audience="catalogue")
    verifier = TokenVerifier(
        public_keys_for(published, frozenset({"gateway", "licensing"})), audience="catalogue"
    )

    assert verifier.verify(token).issuer == "licensing"


def test_the_keys_survive_a_restart_and_differ_between_components(tmp_path: Path) -> None:
    first = stack_environment(data_dir=tmp_path, port=8000, base={})
    again = stack_environment(data_dir=tmp_path, port=8000, base={})

    keys = [first[internal_signing_key(name)] for name in NAMES]
    assert keys == [again[internal_signing_key(name)] for name in NAMES]
    assert len(set(keys)) == len(NAMES)
    assert first[INTERNAL_PUBLIC_KEYS] == again[INTERNAL_PUBLIC_KEYS]


def test_an_operators_own_key_is_used_and_published(tmp_path: Path) -> None:
    own = stack_environment(data_dir=tmp_path / "a", port=8000, base={})
    setting = internal_signing_key("delivery")

    env = stack_environment(data_dir=tmp_path / "b", port=8000, base={setting: own[setting]})

    assert env[setting] == own[setting]
    assert (
        json.loads(env[INTERNAL_PUBLIC_KEYS])["delivery"]
        == (json.loads(own[INTERNAL_PUBLIC_KEYS])["delivery"])
    )


def test_a_malformed_key_stops_assent_up_naming_it(tmp_path: Path) -> None:
    setting = internal_signing_key("delivery")
    env = stack_environment(data_dir=tmp_path, port=8000, base={setting: "not-a-key"})

    with pytest.raises(StackError, match=f"{setting} is not an Ed25519 private key"):
        check_settings(env)
