"""`assent witness init` and `assent witness serve`: run a checkpoint witness.

Part of the lab client: an auditor or a lab can witness the log with `pip install assent`
alone (`assent/witness/_server.py` says why it needs no server extra).
"""

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from assent.options import DEFAULT_GATEWAY_URL, GATEWAY_URL_ENV, gateway_url


def _init(args: argparse.Namespace) -> int:
    from assent.witness import WitnessSetupError, init_witness

    try:
        signer = init_witness(Path(args.data_dir), args.name)
    except (WitnessSetupError, ValueError) as error:
        print(f"assent witness: {error}", file=sys.stderr)
        return 2
    # The vkey alone on stdout: `VKEY=$(assent witness init ...)` in a script.
    print(signer.verifier.vkey)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from assent.protocol import NoteError, parse_vkey
    from assent.witness import Witness, WitnessSetupError, WitnessState, load_signer, make_server

    data_dir = Path(args.data_dir)
    try:
        log_keys = [parse_vkey(vkey) for vkey in args.log_vkey]
        signer = load_signer(data_dir)
        state = WitnessState(data_dir)
        state.hold()
        witness = Witness(signer, state, log_keys)
        server = make_server(witness, args.host, args.port)
    except (NoteError, WitnessSetupError, OSError) as error:
        print(f"assent witness: {error}", file=sys.stderr)
        return 2
    print(f"assent witness {signer.verifier.vkey}", flush=True)
    for key in log_keys:
        print(f"  witnessing log {key.name} (key {key.key_id.hex()})", flush=True)
    print(f"  listening on http://{args.host}:{server.server_port}/add-checkpoint", flush=True)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever, which runs in this thread: ask from another.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        state.release()
    print("assent witness stopped", flush=True)
    return 0


def _log_vkey(args: argparse.Namespace) -> int:
    from assent.protocol import note_verifier, public_key_from
    from assent.verify import KeysUnavailable, load_keys
    from services.contracts.audit import LOG_ORIGIN
    from services.contracts.signing import CHECKPOINT_KEY_PURPOSE, WELL_KNOWN_KEYS_PATH

    source = args.keys or gateway_url().rstrip("/") + WELL_KNOWN_KEYS_PATH
    try:
        keys = [key for key in load_keys(source) if key.purpose == CHECKPOINT_KEY_PURPOSE]
    except KeysUnavailable as error:
        print(f"assent witness: {error}", file=sys.stderr)
        return 2
    if not keys:
        print(f"assent witness: {source} publishes no audit checkpoint key", file=sys.stderr)
        return 1
    # The log signs its checkpoint notes with its checkpoint key, named after its origin.
    for key in keys:
        print(note_verifier(LOG_ORIGIN, public_key_from(key)).vkey)
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `assent witness init|serve` to the `assent` parser."""
    witness = commands.add_parser(
        "witness",
        help="cosign the audit log's checkpoints as an independent witness (C2SP tlog-witness)",
        description="A witness keeps the last checkpoint it cosigned for each log and cosigns "
        "a new one only once a consistency proof shows it extends that one.",
    )
    actions = witness.add_subparsers(dest="action", required=True)
    init = actions.add_parser(
        "init", help="make the witness key in DIR (kept if there) and print its vkey"
    )
    init.add_argument("--data-dir", required=True, metavar="DIR")
    init.add_argument(
        "--name",
        help="the witness's key name, a schema-less URL such as witness.example.org/w1 "
        "(default assent-witness/<random>)",
    )
    init.set_defaults(handler=_init)
    serve = actions.add_parser("serve", help="answer POST /add-checkpoint")
    serve.add_argument("--data-dir", required=True, metavar="DIR")
    serve.add_argument(
        "--log-vkey",
        required=True,
        action="append",
        metavar="VKEY",
        help="a log's note key, <origin>+<key id>+<base64 key> (`assent witness log-vkey` "
        "prints the audit log's); repeat for several logs or a rotated key",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7380)
    serve.set_defaults(handler=_serve)
    log_vkey = actions.add_parser(
        "log-vkey", help="print the audit log's note vkey(s), from its published keys"
    )
    log_vkey.add_argument(
        "--keys",
        metavar="FILE_OR_URL",
        help="the published keys (default the gateway's well-known keys at "
        f"${GATEWAY_URL_ENV} or {DEFAULT_GATEWAY_URL})",
    )
    log_vkey.set_defaults(handler=_log_vkey)
