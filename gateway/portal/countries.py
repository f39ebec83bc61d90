"""The countries a creator may name as an offer's territory, for the portal's picker.

The catalogue checks territories against ISO 3166-1 with pycountry; the picker lists the
same countries from the same package, by the names people use ("Bolivia", not "Bolivia,
Plurinational State of"), so nothing the picker offers is refused. Built once at start.
"""

import json
import unicodedata

import pycountry


def _sort_key(name: str) -> str:
    """ "Åland Islands" as "aland islands": among the As, not after "Zimbabwe"."""
    spelled = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in spelled if not unicodedata.combining(ch)).casefold()


def countries_json() -> bytes:
    """`[{"code": "AF", "name": "Afghanistan"}, ...]`, sorted by name."""
    found = [
        {"code": country.alpha_2, "name": getattr(country, "common_name", country.name)}
        for country in pycountry.countries
    ]
    found.sort(key=lambda country: _sort_key(country["name"]))
    return json.dumps(found, ensure_ascii=False, separators=(",", ":")).encode()
