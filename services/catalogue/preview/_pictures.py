"""The pictures of a preview: an image's thumbnail and a WAV file's waveform.

Pillow draws both; the standard library's `wave` reads the PCM samples, which numpy
reduces to one peak a column. No library reads every audio format without native
decoders (ffmpeg), so only WAV gets a waveform and other sounds are said to have none.

A damaged picture is told apart from one in a format Pillow does not read (a camera's
raw file, HEIC, SVG: no fault of the file, just no thumbnail) by its opening bytes: each
common format Pillow reads announces itself there. Pillow has no public call that names
the format its bytes claim without also decoding them, so the few signatures are here.
"""

import io
import warnings
import wave
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

THUMBNAIL_SIZE = (320, 320)
WAVEFORM_SIZE = (640, 120)
WAVEFORM_COLOUR = (46, 94, 170)
_SAMPLE_TYPES = {1: np.uint8, 2: np.int16, 4: np.int32}
# The opening bytes of PNG, JPEG, GIF and TIFF (both byte orders) files; not BMP's, whose
# two letters begin one file of random bytes in 65,536.
_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
)


def _claims_to_be_a_picture(content: bytes) -> bool:
    webp = content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    return webp or content.startswith(_SIGNATURES)


class UnreadableImage(Exception):
    """The bytes begin as an image Pillow knows but cannot be decoded: a damaged file."""


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def thumbnail(content: bytes) -> bytes | None:
    """A PNG at most 320 pixels a side, upright as the camera meant it; None for a format
    Pillow does not know (a camera's raw file, HEIC, SVG), which is no fault of the file."""
    try:
        with warnings.catch_warnings():
            # A picture too large to decode safely is refused, not just warned about.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(content))
    except UnidentifiedImageError:
        if _claims_to_be_a_picture(content):
            raise UnreadableImage from None
        return None
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnreadableImage from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Checks what decoding alone lets pass, such as a PNG's chunk checksums; the
            # checked image cannot be drawn, so it is opened again to be.
            with opened:
                opened.verify()
            decoded = Image.open(io.BytesIO(content))
        with warnings.catch_warnings(), decoded:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = ImageOps.exif_transpose(decoded)
            image.thumbnail(THUMBNAIL_SIZE)
            picture = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # Its header named a format Pillow reads, and the rest of it does not decode.
        raise UnreadableImage from exc
    except Image.DecompressionBombWarning as exc:
        raise UnreadableImage from exc
    return _png(picture)


@dataclass(frozen=True)
class Waveform:
    duration_ms: int
    png: bytes


def waveform(content: bytes) -> Waveform | None:
    """The duration and a picture of a PCM WAV file's peaks; None for other sounds."""
    try:
        with wave.open(io.BytesIO(content)) as sound:
            channels = sound.getnchannels()
            width = sound.getsampwidth()
            rate = sound.getframerate()
            frames = sound.readframes(sound.getnframes())
    except (wave.Error, EOFError, ValueError):
        return None
    if width not in _SAMPLE_TYPES or rate <= 0:
        return None
    samples = np.frombuffer(frames[: len(frames) - len(frames) % width], _SAMPLE_TYPES[width])
    level = samples.astype(np.float64)
    if width == 1:
        # 8-bit WAV is unsigned, centred on 128.
        level -= 128
    level = np.abs(level) / float(2 ** (8 * width - 1))
    count = len(level) // channels
    duration_ms = round(count * 1000 / rate)
    columns, height = WAVEFORM_SIZE
    picture = Image.new("RGB", WAVEFORM_SIZE, "white")
    if count:
        per_frame = level[: count * channels].reshape(count, channels).max(axis=1)
        bins = np.array_split(per_frame, min(columns, count))
        draw = ImageDraw.Draw(picture)
        middle = height / 2
        for x, peaks in enumerate(bins):
            reach = max(1.0, float(peaks.max()) * middle)
            draw.line([(x, middle - reach), (x, middle + reach)], fill=WAVEFORM_COLOUR)
    return Waveform(duration_ms, _png(picture))
