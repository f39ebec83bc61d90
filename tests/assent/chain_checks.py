"""Licence chain exports checked as the chain tests check them: in process, for the
problems or facts of the verdict, or through `assent verify`."""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from assent.cli import main
from assent.protocol import VerificationError
from assent.verify import verify_document
from services.contracts.audit import ChainSubjectKind
from services.contracts.signing import PublicKeyRead

WORK = ChainSubjectKind.WORK
LICENCE = ChainSubjectKind.LICENCE


def problems_of(document: Any, keys: list[PublicKeyRead], kept: Any = None) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_document(document, keys, kept=kept)
    assert caught.value.kind == "licence chain"
    return "\n".join(caught.value.problems)


def facts_of(document: Any, keys: list[PublicKeyRead], kept: Any = None) -> dict[str, str]:
    verdict = verify_document(document, keys, kept=kept)
    assert verdict.kind == "licence chain"
    return dict(verdict.facts)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(document))
    return path
