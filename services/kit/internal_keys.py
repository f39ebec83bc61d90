"""`python -m services.kit.internal_keys [DIRECTORY]`: the value of
`ASSENT_INTERNAL_PUBLIC_KEYS` for a deployment, from its components' private keys.

The keys are read from `ASSENT_<COMPONENT>_INTERNAL_SIGNING_KEY` in the environment
(compose's infra/.env), or from `DIRECTORY/<component>.key` (the files Kubernetes' Secrets
are made from). `assent up` needs none of this: it makes and publishes its keys itself."""

import json
import os
import sys
from pathlib import Path

from services.kit.internal_token import load_private_key, public_key_text
from services.stack import DATABASE_COMPONENTS, internal_signing_key


def public_keys(directory: Path | None) -> dict[str, str]:
    keys: dict[str, str] = {}
    for component in DATABASE_COMPONENTS:
        setting = internal_signing_key(component.name)
        if directory is None:
            text, where = os.environ.get(setting, ""), setting
        else:
            path = directory / f"{component.name}.key"
            text, where = (path.read_text() if path.is_file() else ""), str(path)
        keys[component.name] = public_key_text(load_private_key(text, setting=where))
    return keys


def main(argv: list[str]) -> int:
    try:
        keys = public_keys(Path(argv[0]) if argv else None)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps(keys, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
