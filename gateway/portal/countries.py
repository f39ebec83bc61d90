"""The countries a creator may name as an offer's territory, for the portal's picker.

The catalogue checks territories against ISO 3166-1 with pycountry; the picker lists the
same countries from the same package, by the names people use ("Bolivia", not "Bolivia,
Plurinational State of"), so nothing the picker offers is refused. Built once at start.
"""

import json
import unicodedata

import pycountry


def countries_json() -> bytes:
    """`[{"code": "AF", "name": "Afghanistan"}, ...]`, sorted by name."""
    found = [
        {"code": country.alpha_2, "name": getattr(country, "common_name", country.name)}
        for country in pycountry.countries
    ]
    # "Åland Islands" among the As, not after "Zimbabwe".
    found.sort(key=lambda country: unicodedata.normalize("NFKD", country["name"]).casefold())
    return json.dumps(found, ensure_ascii=False, separators=(",", ":")).encode()
