"""A text's opening, as buyers see it in search results."""

EXCERPT_CHARACTERS = 500
# Enough bytes for 500 characters of any UTF-8 text (4 bytes each at most).
EXCERPT_BYTES = 4 * EXCERPT_CHARACTERS


def excerpt(opening: bytes) -> str:
    """The first characters of the text, decoded as UTF-8 with anything undecodable
    replaced (a character cut at the end of `opening` included), whitespace runs kept
    short and control characters left out."""
    text = opening.decode("utf-8", errors="replace").removeprefix("\ufeff")
    printable = "".join(c if c.isprintable() or c in "\n\t" else " " for c in text)
    lines = [" ".join(line.split()) for line in printable.splitlines()]
    joined = "\n".join(line for line in lines if line)
    if len(joined) <= EXCERPT_CHARACTERS:
        return joined
    return joined[:EXCERPT_CHARACTERS].rstrip() + "…"
