"""A work's terms in vocabularies a creator can publish next to the work on their own site.

- W3C TDMRep: rights are always reserved (`tdm-reservation: 1`); when the work can be
  licensed, `tdm-policy` is a TDMRep policy (an ODRL Offer under the TDMRep profile).
- ODRL 2.2 (JSON-LD): an Offer with one permission per licensable use, constrained by
  territory and duration, with duties to pay and, where asked, to attribute.
- The training-and-mining assertion under its current label, CAWG's
  `cawg.training-mining` (C2PA 2.x moved it there from `c2pa.training-mining`, with
  `cawg.*` entry keys; verifiers that read only the new label ignore the old one): every
  licensable use is `constrained` (a paid licence is the condition), every other one
  `notAllowed`. Nothing is ever `allowed`, since Assent never grants a use without a
  licence.
"""

from decimal import Decimal
from typing import Any

from services.catalogue.models import Offer, Work
from services.contracts.catalogue import CURRENCY_MINOR_DIGITS, Terms, TermsSignals, Use, WorkStatus

ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
TDMREP_PROFILE = "http://www.w3.org/ns/tdmrep"
TDMREP_NAMESPACE = "http://www.w3.org/ns/tdmrep#"
# The currency vocabulary TDMRep's examples use for payment units.
CURRENCY_UNIT = "http://cvx.iptc.org/iso4217a/"

TRAINING_MINING_LABEL = "cawg.training-mining"
# Which Assent uses fall under each entry of the training-and-mining assertion.
TRAINING_MINING_ENTRIES: dict[str, frozenset[Use]] = {
    "cawg.ai_training": frozenset({Use.TRAINING, Use.FINE_TUNING}),
    "cawg.ai_generative_training": frozenset({Use.TRAINING, Use.FINE_TUNING, Use.SYNTHETIC_DATA}),
    "cawg.ai_inference": frozenset({Use.RETRIEVAL, Use.EVALUATION}),
    "cawg.data_mining": frozenset(Use),
}
# Uses that train a model, to which a cap on the number of models applies.
MODEL_TRAINING_USES = frozenset({Use.TRAINING, Use.FINE_TUNING})


def licensable_uses(work: Work) -> frozenset[Use]:
    """The uses a buyer could license now: offered, consented, and the work not withdrawn."""
    consent, offer = work.consent, work.offer
    if work.status == WorkStatus.WITHDRAWN or consent is None or not consent.in_force:
        return frozenset()
    if offer is None:
        return frozenset()
    offered = frozenset(offer.terms.uses)
    consented = frozenset(Use(use) for use in consent.uses)
    return offered if offered <= consented else frozenset()


def work_iri(work: Work) -> str:
    return f"urn:assent:work:{work.id}"


def _price(offer: Offer) -> str:
    digits = CURRENCY_MINOR_DIGITS[offer.currency]
    return str(Decimal(offer.price_minor).scaleb(-digits))


def _compensate(offer: Offer) -> dict[str, Any]:
    return {
        "action": [
            {
                "rdf:value": {"@id": "odrl:compensate"},
                "refinement": [
                    {
                        "leftOperand": "payAmount",
                        "operator": "eq",
                        "rightOperand": {"@value": _price(offer), "@type": "xsd:decimal"},
                        "unit": CURRENCY_UNIT + offer.currency,
                    }
                ],
            }
        ]
    }


def _duties(offer: Offer, terms: Terms) -> list[dict[str, Any]]:
    duties = [_compensate(offer)]
    if terms.attribution_required:
        duties.append({"action": "attribute"})
    return duties


def _constraints(use: Use, terms: Terms) -> list[dict[str, Any]]:
    constraints: list[dict[str, Any]] = [
        {
            "leftOperand": "elapsedTime",
            "operator": "lteq",
            "rightOperand": {"@value": f"P{terms.duration_days}D", "@type": "xsd:duration"},
        }
    ]
    if terms.territory != ["WORLD"]:
        constraints.append(
            {"leftOperand": "spatial", "operator": "isAnyOf", "rightOperand": terms.territory}
        )
    if terms.max_models is not None and use in MODEL_TRAINING_USES:
        constraints.append(
            {"leftOperand": "count", "operator": "lteq", "rightOperand": terms.max_models}
        )
    return constraints


def odrl_policy(work: Work, uses: frozenset[Use]) -> dict[str, Any]:
    target = work_iri(work)
    policy: dict[str, Any] = {
        "@context": ODRL_CONTEXT,
        "@type": "Offer",
        "uid": f"urn:assent:offer:{work.offer.id}" if work.offer else f"{target}:no-offer",
        "assigner": f"urn:assent:creator:{work.owner_id}",
        "target": target,
        "permission": [],
    }
    offer = work.offer
    if offer is None or not uses:
        # Nothing can be licensed: the same policy with no permission says so.
        return policy
    terms = offer.terms
    policy["permission"] = [
        {
            "target": target,
            "action": {
                "rdf:value": {"@id": "odrl:use"},
                "refinement": [
                    {
                        "leftOperand": "purpose",
                        "operator": "eq",
                        "rightOperand": {"@id": f"urn:assent:use:{use}"},
                    }
                ],
            },
            "constraint": _constraints(use, terms),
            "duty": _duties(offer, terms),
        }
        for use in sorted(uses)
    ]
    if not terms.commercial_use:
        policy["prohibition"] = [{"target": target, "action": "commercialize"}]
    return policy


def tdmrep(work: Work, uses: frozenset[Use]) -> dict[str, Any]:
    signal: dict[str, Any] = {"tdm-reservation": 1}
    offer = work.offer
    if offer is None or not uses:
        return signal
    target = work_iri(work)
    signal["tdm-policy"] = {
        "@context": [ODRL_CONTEXT, {"tdm": TDMREP_NAMESPACE}],
        "@type": "Offer",
        "profile": TDMREP_PROFILE,
        "uid": f"urn:assent:offer:{offer.id}:tdm",
        "assigner": f"urn:assent:creator:{work.owner_id}",
        "permission": [
            {"target": target, "action": "tdm:mine", "duty": _duties(offer, offer.terms)}
        ],
    }
    return signal


def c2pa_training_mining(work: Work, uses: frozenset[Use]) -> dict[str, Any]:
    entries: dict[str, dict[str, str]] = {}
    offer = work.offer
    for label, covered in TRAINING_MINING_ENTRIES.items():
        if offer is not None and uses & covered:
            entries[label] = {
                "use": "constrained",
                "constraint_info": (
                    f"Licence required: {_price(offer)} {offer.currency} through Assent "
                    f"for {', '.join(sorted(uses & covered))}; terms {offer.terms_id}"
                ),
            }
        else:
            entries[label] = {"use": "notAllowed"}
    return {"label": TRAINING_MINING_LABEL, "data": {"entries": entries}}


def terms_signals(work: Work) -> TermsSignals:
    uses = licensable_uses(work)
    return TermsSignals(
        tdmrep=tdmrep(work, uses),
        odrl=odrl_policy(work, uses),
        c2pa=c2pa_training_mining(work, uses),
    )
