"""What the lab client and the servers both need to agree on, with no I/O: RFC 6962 Merkle
hashing and proofs, canonical JSON (RFC 8785), DSSE envelopes signed with Ed25519, and the
verification of manifests, certificates, checkpoints and licence chains.

Everything that fails verification raises `VerificationError`.
"""

from ._chain import KIND as CHAIN_KIND
from ._chain import ChainCheck, check_chain, consistency_problem, parse_chain
from ._chain_rules import RuleOutcome, parties_of, subject_problems, withdrawal_rule
from ._documents import (
    VerifiedManifest,
    first_error,
    many_problems,
    verify_certificate,
    verify_checkpoint,
    verify_manifest,
)
from ._entries import PAYLOADS, STEPS, ChainEvent, LoggedEvent, Problem, read_entry
from ._errors import VerificationError
from ._merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    Frontier,
    Node,
    Range,
    consistency_ranges,
    frontier_nodes,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    nodes_for,
    perfect_parts,
    range_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from ._signing import (
    Signer,
    b64decode,
    b64encode,
    canonical_json,
    generate_seed,
    key_id,
    pae,
    public_key_from,
    verify_envelope,
)

__all__ = [
    "CHAIN_KIND",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "PAYLOADS",
    "STEPS",
    "ChainCheck",
    "ChainEvent",
    "Frontier",
    "LoggedEvent",
    "Node",
    "Problem",
    "Range",
    "RuleOutcome",
    "Signer",
    "VerificationError",
    "VerifiedManifest",
    "b64decode",
    "b64encode",
    "canonical_json",
    "check_chain",
    "consistency_problem",
    "consistency_ranges",
    "first_error",
    "frontier_nodes",
    "generate_seed",
    "inclusion_ranges",
    "key_id",
    "leaf_hash",
    "many_problems",
    "node_hash",
    "nodes_for",
    "pae",
    "parse_chain",
    "parties_of",
    "perfect_parts",
    "public_key_from",
    "range_hash",
    "read_entry",
    "root_of",
    "subject_problems",
    "verify_certificate",
    "verify_checkpoint",
    "verify_consistency",
    "verify_envelope",
    "verify_inclusion",
    "verify_manifest",
    "withdrawal_rule",
]
