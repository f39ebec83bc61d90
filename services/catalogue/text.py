"""Text as the catalogue stores it."""


def canonical_language(tag: str) -> str:
    """BCP 47 casing (`en-GB`, `zh-Hant-TW`), so that one language is one value."""
    primary, *rest = tag.split("-")
    subtags = [primary.lower()]
    for subtag in rest:
        if len(subtag) == 4 and subtag.isalpha():
            subtags.append(subtag.title())
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            subtags.append(subtag.upper())
        else:
            subtags.append(subtag.lower())
    return "-".join(subtags)
