"""The lab's CLI as a new lab meets it: login keeps the key for its owner alone, amounts
are given and shown in the currency's units, a closed pipe ends quietly, and a refusal
that would be refused again offers no retry."""

import stat
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from assent.cli import main
from assent.client import AssentClient
from assent.models import Money, to_minor
from assent.options import CONFIG_ENV
from tests.assent.conftest import new_key


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config" / "assent.json"
    monkeypatch.setenv(CONFIG_ENV, str(path))
    monkeypatch.delenv("ASSENT_API_KEY", raising=False)
    return path


def test_login_keeps_an_accepted_key_readable_by_its_owner_alone_and_later_calls_use_it(
    lonely_gateway: tuple[str, str], config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = lonely_gateway[0]
    key = new_key(lonely_gateway)
    config.parent.mkdir()
    config.write_text("{}")
    config.chmod(0o644)

    assert main(["login", "--gateway", url, "--key", key]) == 0

    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "logged in" in capsys.readouterr().out
    with AssentClient() as client:
        assert client.gateway_url == url
        assert client.me().id


def test_a_refused_key_is_never_kept(
    lonely_gateway: tuple[str, str], config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["login", "--gateway", lonely_gateway[0], "--key", "assent_unknown0_" + "x" * 40])

    assert code == 1
    assert "Unauthenticated" in capsys.readouterr().err
    assert not config.exists()


def test_an_amount_is_read_in_the_currencys_units_and_shown_with_its_currency() -> None:
    assert to_minor(Decimal("20.00"), "EUR") == 2000
    assert to_minor(Decimal("1500"), "JPY") == 1500
    assert str(Money(amount_minor=2000, currency="EUR")) == "20.00 EUR"
    with pytest.raises(ValueError, match="finer"):
        to_minor(Decimal("0.001"), "EUR")


def test_a_max_price_finer_than_a_cent_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["search", "--max-price", "0.001", "--key", "k", "--gateway", "http://127.0.0.1:9"])

    assert code == 2
    assert "finer than the currency's smallest unit" in capsys.readouterr().err


def test_verify_json_into_a_closed_pipe_ends_without_a_traceback(tmp_path: Path) -> None:
    document = tmp_path / "not-a-bundle.json"
    document.write_text('{"payloadType": "x", "payload": "", "signatures": []}')
    # Enough output to fill the pipe after the reader has gone.
    keys = tmp_path / "keys.json"
    keys.write_text('{"keys": []}')
    script = (
        "import sys; from assent.cli import main; "
        f"sys.exit(main(['verify', '--json', '--keys', {str(keys)!r}, {str(document)!r}]))"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert reader.stdout is not None
    reader.stdout.close()
    _, errors = reader.communicate(timeout=60)

    assert b"BrokenPipeError" not in errors
    assert b"Traceback" not in errors
