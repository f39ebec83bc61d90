"""Perceptual fingerprints of images: pHash and dHash, 64 bits each.

Both hashes read the image's coarse structure in grey levels, so a copy that was
resized, re-encoded or made a little brighter or darker hashes within a few bits of its
original. A crop shifts that structure, so each image is also hashed as its centred
crop to 90% of each side: a copy cropped by about that much then meets its original's
crop, or the original meets the copy's, at a distance of a few bits.
"""

import io
import warnings

import imagehash
import numpy as np
from PIL import Image, ImageOps

HASH_BYTES = 8
# Both hashes of one view, then both of the other: 32 bytes.
VIEW_BYTES = 2 * HASH_BYTES
CROP_KEPT = 0.9
# At most this many differing bits of the 128 (pHash + dHash) make a near duplicate.
# Measured with bench/near_duplicates.py: resized, re-encoded, cropped and darkened
# copies all came within it, brightened ones 199 in 200; no two of 10,000 distinct
# pictures did.
NEAR_DISTANCE = 12
# Sixteen bits a band: with a million images stored, an exact band value is shared by
# about fifteen of them, so a lookup reads few candidates. Two hashes within 7 bits share
# a band for certain (pigeonhole, 8 bands); within 12 they share one almost always.
BAND_BYTES = 2


def _views(image: Image.Image) -> list[Image.Image]:
    width, height = image.size
    margin_x = round(width * (1 - CROP_KEPT) / 2)
    margin_y = round(height * (1 - CROP_KEPT) / 2)
    return [image, image.crop((margin_x, margin_y, width - margin_x, height - margin_y))]


def _hash_bytes(hashed: imagehash.ImageHash) -> bytes:
    return np.packbits(hashed.hash.flatten()).tobytes()


def image_signature(content: bytes) -> bytes | None:
    """Both views' hashes, or None when the content is not an image Pillow can read."""
    try:
        with warnings.catch_warnings():
            # An oversized image is refused below, as an error, rather than warned about.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as opened:
                # A phone's photo and a copy saved upright must compare as the same picture.
                image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    return b"".join(
        _hash_bytes(imagehash.phash(view)) + _hash_bytes(imagehash.dhash(view))
        for view in _views(image)
    )


def image_bands(signature: bytes) -> frozenset[tuple[int, int]]:
    """(band, value) of both views: a view of one image meets either view of another."""
    return frozenset(
        (offset // BAND_BYTES, int.from_bytes(view[offset : offset + BAND_BYTES], "big"))
        for start in range(0, len(signature), VIEW_BYTES)
        for view in [signature[start : start + VIEW_BYTES]]
        for offset in range(0, VIEW_BYTES, BAND_BYTES)
    )


def image_distance(left: bytes, right: bytes) -> int:
    """The fewest differing bits between a view of one and a view of the other."""
    left_views = [int.from_bytes(left[i : i + VIEW_BYTES], "big") for i in (0, VIEW_BYTES)]
    right_views = [int.from_bytes(right[i : i + VIEW_BYTES], "big") for i in (0, VIEW_BYTES)]
    return min((a ^ b).bit_count() for a in left_views for b in right_views)


def image_score(left: bytes, right: bytes) -> float | None:
    """1.0 for the same hashes, down to about 0.91 at the edge; None when not near."""
    distance = image_distance(left, right)
    if distance > NEAR_DISTANCE:
        return None
    return 1 - distance / (8 * VIEW_BYTES)
