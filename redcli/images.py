"""Read and write image files without losing what users care about.

:func:`read_image` decodes PNG, JPEG, TIFF, WebP and BMP files into an :class:`ImageFile`:
float32 HWC pixels in [0, 1] (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) at the stored bit
depth (8 or 16), with the EXIF orientation applied, and the ICC profile, EXIF block and DPI
kept. :func:`write_image` encodes one back, atomically, keeping bit depth, alpha and
metadata wherever the output format can hold them.

Policies (the things other upscalers get wrong):

* 16-bit samples stay 16-bit: PNG and TIFF are written at 16 bits. Pillow decodes 16-bit
  RGB(A) PNG/TIFF to 8 bits, so for those the same compressed data is decoded twice, once
  keeping the high byte of every sample and once the low byte (Pillow's ``;16B``/``;16L``
  unpackers on the unchanged decoder), and the bytes are recombined. Pillow cannot write
  16-bit colour at all, so 16-bit PNG and all TIFF are encoded here (zlib + standard
  filters / predictor); 16-bit grey+alpha TIFF is stored as 16-bit RGBA because Pillow
  cannot read 16-bit grey+alpha TIFF back.
* Transparency is never dropped silently. Palette and colour-key (tRNS) transparency become
  an alpha channel. JPEG and BMP cannot store alpha: a fully opaque alpha channel is dropped
  (nothing is lost), any other is refused with :class:`ImageWriteError`.
* Palette images are read as RGB/RGBA (mode recorded as ``"P"``) and written as RGB/RGBA:
  restoration creates new colours, and re-quantising to 256 colours would undo it.
* WebP is written lossless unless a ``quality`` is given; JPEG uses quality 95 with 4:4:4
  chroma by default. JPEG, WebP and BMP hold 8 bits per sample only.
* CMYK and YCbCr input is converted to RGB (CMYK naively: its ICC profile is dropped, as a
  CMYK profile does not describe RGB data).
* Metadata: the ICC profile and EXIF are written to PNG, JPEG, TIFF and WebP, DPI to PNG,
  JPEG, TIFF and BMP. A profile whose colour space does not fit the written samples (an RGB
  profile on grey output) is left out.
* Values are clipped to [0, 1] and rounded (not truncated) to the integer range.
"""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
from PIL import Image, TiffImagePlugin

from redcli.atomic import atomic_output
from redcli.errors import ImageReadError, ImageWriteError, UsageError

MAX_PIXELS = 2**27
"""Largest image read (width x height, ~134 Mpx): bigger ones are refused as possible
decompression bombs. Pillow's own hard limit (2 x ``Image.MAX_IMAGE_PIXELS``) still applies."""

JPEG_QUALITY = 95
"""JPEG quality used when ``write_image`` gets ``quality=None``."""

FORMAT_SUFFIXES: dict[str, str] = {
    ".bmp": "BMP",
    ".jpeg": "JPEG",
    ".jpg": "JPEG",
    ".png": "PNG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(FORMAT_SUFFIXES)
"""Lower-case file suffixes of the formats read and written (for directory scans)."""

_FORMATS = frozenset(FORMAT_SUFFIXES.values())
# GIF is opened only to report animation or "unsupported" clearly. Pillow opens multi-picture
# JPEGs (MPO, from phones) through "JPEG"; their first picture is the photo.
_OPENABLE = ("PNG", "JPEG", "TIFF", "WEBP", "BMP", "GIF")
_DEEP_FORMATS = frozenset({"PNG", "TIFF"})  # formats written at 16 bits when the image has 16
_NO_ALPHA_FORMATS = frozenset({"JPEG", "BMP"})
_MODES_BY_CHANNELS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}

# Pillow modes converted on read, to the mode giving our channel layout.
_CONVERSIONS = {
    "1": "L", "La": "LA", "PA": "RGBA", "RGBa": "RGBA", "RGBX": "RGB", "CMYK": "RGB", "YCbCr": "RGB"
}
_GREY16_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
# 16-bit colour rawmodes that Pillow unpacks to 8 bits -> rawmode giving the other byte.
_NATIVE_SWAP = "B" if sys.byteorder == "little" else "L"
_WIDE_RAWMODES = {
    f"{base};16{end}": f"{base};16{swap}"
    for base in ("RGB", "RGBA", "RGBX")
    for end, swap in (("B", "L"), ("L", "B"), ("N", _NATIVE_SWAP))
}
_LA16_RAWMODE = "LA;16B"  # PNG 16-bit grey+alpha, opened by Pillow as 8-bit RGBA

_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
# TIFF IFD0 tags that describe the picture (the rest describe the file layout).
_TIFF_EXIF_TAGS = (270, 271, 272, _ORIENTATION, 305, 306, 315, 33432, _EXIF_IFD, _GPS_IFD)

# What Pillow raises for bad data (its plugins are not consistent about it).
_DECODE_ERRORS = (
    OSError, SyntaxError, ValueError, TypeError, EOFError, IndexError, KeyError, struct.error, zlib.error
)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}
_PNG_BLOCK_BYTES = 1 << 20  # raw bytes filtered per numpy block and per IDAT chunk
_TIFF_STRIP_BYTES = 1 << 18
_INCH = 0.0254  # metres

_Dpi = tuple[float, float]


@dataclass(frozen=True, eq=False)
class ImageFile:
    """A decoded image and the metadata to write back with it.

    ``pixels`` is HWC float32 in [0, 1] with C in {1, 2, 3, 4} (grey, grey+alpha, RGB, RGBA)
    and the EXIF orientation already applied. ``bit_depth`` (8 or 16) is the precision per
    sample as stored; ``mode`` the Pillow mode of the source ("L", "LA", "RGB", "RGBA", "P",
    "I;16", "CMYK"...; "RGB"/"RGBA"/"LA" with ``bit_depth`` 16 for 16-bit colour);
    ``format`` one of "PNG", "JPEG", "TIFF", "WEBP", "BMP". ``exif`` is a Pillow-style EXIF
    block (``b"Exif\\0\\0"`` + TIFF structure) whose orientation tag, if any, is 1; ``dpi``
    is (x, y) dots per inch. Compared by identity (``eq=False``): pixels are arrays.
    """

    pixels: np.ndarray
    bit_depth: int
    mode: str
    format: str
    icc_profile: bytes | None = None
    exif: bytes | None = None
    dpi: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] not in _MODES_BY_CHANNELS:
            raise ValueError(f"pixels must be HWC with 1 to 4 channels, got shape {self.pixels.shape}")
        if self.bit_depth not in (8, 16):
            raise ValueError(f"bit_depth must be 8 or 16, got {self.bit_depth}")

    def with_pixels(self, pixels: np.ndarray, *, dpi_scale: float = 1.0) -> ImageFile:
        """The same file metadata with new HWC [0, 1] pixels (any size; cast to float32).

        ``dpi_scale`` (> 0) multiplies the DPI: pass the upscaling factor to keep the
        printed size of an upscaled image.
        """
        dpi = None if self.dpi is None else (self.dpi[0] * dpi_scale, self.dpi[1] * dpi_scale)
        return dataclasses.replace(self, pixels=np.asarray(pixels, dtype=np.float32), dpi=dpi)


class _Problem(Exception):
    """Why a file cannot be read or written; the public functions prefix the path."""


def format_for_suffix(suffix: str) -> str | None:
    """The format name ("PNG", "JPEG", ...) for a file suffix like ".JPG", or None if unknown."""
    return FORMAT_SUFFIXES.get(suffix.lower())


# --------------------------------------------------------------------------- reading


def read_image(path: str | os.PathLike[str]) -> ImageFile:
    """Decode the image at ``path`` fully (see the module docstring for what is kept).

    Raises :class:`ImageReadError` with one line ``"<path>: <problem>"`` for a missing,
    unreadable, empty, corrupt, truncated, animated, too large or unsupported file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fp:
            if os.fstat(fp.fileno()).st_size == 0:
                raise _Problem("empty file")
            return _read(fp)
    except _Problem as exc:
        raise ImageReadError(f"{path}: {exc}") from exc
    except OSError as exc:  # opening the file itself; decoder errors become _Problem
        raise ImageReadError(f"{path}: {_os_problem(exc)}") from exc


def _read(fp: BinaryIO) -> ImageFile:
    with _open(fp) as im:
        _check_still(im)
        _check_size(im.size)
        fmt = "JPEG" if im.format == "MPO" else str(im.format)
        if fmt not in _FORMATS:
            raise _Problem(f"unsupported image format {im.format}")
        rawmode = _rawmode(im)
        samples = _decode(im, fp, rawmode)
        exif, orientation = _exif_of(im, fmt)
        icc = None if im.mode == "CMYK" else im.info.get("icc_profile") or None
        dpi = _dpi_of(im.info)
        mode = "LA" if rawmode == _LA16_RAWMODE else im.mode
    if orientation in (5, 6, 7, 8) and dpi is not None:
        dpi = (dpi[1], dpi[0])
    return ImageFile(
        pixels=_to_unit_float(_orient(samples, orientation)),
        bit_depth=16 if samples.dtype == np.uint16 else 8,
        mode=mode,
        format=fmt,
        icc_profile=icc,
        exif=exif,
        dpi=dpi,
    )


def _open(fp: BinaryIO) -> Image.Image:
    """Open (parse the header of) the file.

    Pillow's soft decompression-bomb warning is silenced: :data:`MAX_PIXELS` is the policy.
    (``catch_warnings`` is process-wide; concurrent reads can at worst leave that one
    warning silenced.)
    """
    fp.seek(0)
    Image.init()  # registers every plugin (MPO, WebP...) once; ``formats=`` needs them
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(fp, formats=_OPENABLE)
    except Image.UnidentifiedImageError as exc:
        raise _Problem("not an image in a supported format (BMP, JPEG, PNG, TIFF, WebP)") from exc
    except Image.DecompressionBombError as exc:
        raise _Problem("image too large (possible decompression bomb)") from exc
    except _DECODE_ERRORS as exc:
        raise _Problem(f"corrupt image header ({_one_line(exc)})") from exc


def _check_still(im: Image.Image) -> None:
    """Refuse animations and multi-page files (an MPO's extra pictures are not frames)."""
    try:
        frames = getattr(im, "n_frames", 1)  # GIF and TIFF scan the whole file for this
    except _DECODE_ERRORS as exc:
        raise _Problem(f"corrupt or truncated image data ({_one_line(exc)})") from exc
    if frames > 1 and im.format == "TIFF":
        raise _Problem(f"multi-page TIFF files are not supported ({frames} pages)")
    if frames > 1 and im.format != "MPO":
        raise _Problem(f"animated images are not supported ({frames} frames)")


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > MAX_PIXELS:
        raise _Problem(
            f"image too large: {width}x{height} = {width * height} pixels exceeds the limit of "
            f"{MAX_PIXELS} (possible decompression bomb)"
        )


def _rawmode(im: Image.Image) -> str:
    """The rawmode of the first tile of a not-yet-loaded image ("" when not known)."""
    if not im.tile:
        return ""
    args = im.tile[0].args
    return args if isinstance(args, str) else str(args[0]) if args else ""


def _load(im: Image.Image) -> np.ndarray:
    """Fully decode ``im`` (truncation is an error) and return its samples as an array."""
    try:
        im.load()
    except Image.DecompressionBombError as exc:
        raise _Problem("image too large (possible decompression bomb)") from exc
    except _DECODE_ERRORS as exc:
        raise _Problem(f"corrupt or truncated image data ({_one_line(exc)})") from exc
    return np.asarray(im)


def _decode(im: Image.Image, fp: BinaryIO, rawmode: str) -> np.ndarray:
    """Samples of not-yet-loaded ``im`` (first tile ``rawmode``) as HWC uint8 or uint16.

    Palette and colour-key (tRNS) transparency become an alpha channel.
    """
    if ";16" in rawmode and rawmode not in _WIDE_RAWMODES and rawmode != _LA16_RAWMODE:
        if im.mode not in _GREY16_MODES:
            raise _Problem(f"16-bit samples of layout {rawmode!r} are not supported")
    high = _load(im)
    if rawmode == _LA16_RAWMODE:
        raw = _load_with_rawmode(fp, "RGBA").astype(np.uint16)  # bytes: L hi, L lo, A hi, A lo
        return np.stack([raw[..., 0] << 8 | raw[..., 1], raw[..., 2] << 8 | raw[..., 3]], axis=-1)
    if rawmode in _WIDE_RAWMODES:
        low = _load_with_rawmode(fp, _WIDE_RAWMODES[rawmode])
        return _with_colour_key(high.astype(np.uint16) << 8 | low, im.info.get("transparency"))
    if im.mode in _GREY16_MODES or (im.mode == "I" and im.format == "PNG"):
        return _with_colour_key(_grey16(high), im.info.get("transparency"))
    return _as_hwc(_load(_to_layout(im)))


def _load_with_rawmode(fp: BinaryIO, rawmode: str) -> np.ndarray:
    """Decode the file again with every tile unpacked through ``rawmode`` instead."""
    with _open(fp) as im:
        im.tile = [
            tile._replace(args=rawmode if isinstance(tile.args, str) else (rawmode, *tile.args[1:]))
            for tile in im.tile
        ]
        return _load(im)


def _grey16(samples: np.ndarray) -> np.ndarray:
    """16-bit grey (Pillow "I;16*", or "I" holding 0..65535) as HW1 native uint16."""
    if samples.min(initial=0) < 0 or samples.max(initial=0) > 65535:
        raise _Problem("grey samples outside the 16-bit range")
    return samples.astype(np.uint16)[..., None]


def _with_colour_key(samples: np.ndarray, key: object) -> np.ndarray:
    """Add an alpha channel to HWC uint16 grey/RGB: 0 where a pixel equals the tRNS ``key``."""
    if key is None:
        return samples
    opaque = np.any(samples != np.asarray(key, dtype=np.int64).reshape(-1), axis=-1)
    return np.concatenate([samples, (opaque * 65535).astype(np.uint16)[..., None]], axis=-1)


def _to_layout(im: Image.Image) -> Image.Image:
    """``im`` converted (if needed) to L, LA, RGB or RGBA, keeping any transparency as alpha."""
    transparent = "transparency" in im.info
    if im.mode == "P":
        return im.convert("RGBA" if transparent else "RGB")
    if transparent and im.mode in ("1", "L", "RGB"):
        return im.convert("RGBA" if im.mode == "RGB" else "LA")
    if im.mode in _CONVERSIONS:
        return im.convert(_CONVERSIONS[im.mode])
    if im.mode in _MODES_BY_CHANNELS.values():
        return im
    raise _Problem(f"unsupported pixel mode {im.mode!r}")


def _as_hwc(samples: np.ndarray) -> np.ndarray:
    return samples[..., None] if samples.ndim == 2 else samples


def _to_unit_float(samples: np.ndarray) -> np.ndarray:
    """uint8/uint16 samples -> contiguous float32 in [0, 1]."""
    top = np.float32(np.iinfo(samples.dtype).max)
    return np.ascontiguousarray(samples, dtype=np.float32) / top


# EXIF orientation -> the HWC transform that displays the picture upright.
_ORIENTATIONS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _orient(samples: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to HWC samples, as ``PIL.ImageOps.exif_transpose``."""
    transform = _ORIENTATIONS.get(orientation)
    return samples if transform is None else transform(samples)


def _exif_of(im: Image.Image, fmt: str) -> tuple[bytes | None, int]:
    """(EXIF block with orientation reset to 1 or None, the orientation found: 1..8)."""
    try:
        exif = im.getexif()
        orientation = _valid_orientation(exif.get(_ORIENTATION, 1))
        if fmt == "TIFF":
            exif = _descriptive_tags(exif)
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return (exif.tobytes() if exif else None), orientation
    except _DECODE_ERRORS as exc:
        raise _Problem(f"corrupt EXIF data ({_one_line(exc)})") from exc


def _valid_orientation(value: object) -> int:
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _descriptive_tags(tiff_tags: Image.Exif) -> Image.Exif:
    """The EXIF-worthy part of a TIFF's IFD0 (camera, date, author, EXIF and GPS sub-IFDs)."""
    exif = Image.Exif()
    for tag in _TIFF_EXIF_TAGS:
        if tag in (_EXIF_IFD, _GPS_IFD):
            if sub_ifd := tiff_tags.get_ifd(tag):
                exif[tag] = dict(sub_ifd)
        elif tag in tiff_tags:
            exif[tag] = tiff_tags[tag]
    return exif


def _dpi_of(info: dict[str, object]) -> tuple[float, float] | None:
    """DPI from Pillow's info, rounded to 0.1 (PNG/BMP store dots per metre), or None."""
    dpi = info.get("dpi")
    if not isinstance(dpi, tuple) or len(dpi) != 2 or not all(float(d) > 0 for d in dpi):
        return None
    return round(float(dpi[0]), 1), round(float(dpi[1]), 1)


# --------------------------------------------------------------------------- writing


def write_image(
    path: str | os.PathLike[str],
    image: ImageFile,
    *,
    format: str | None = None,
    quality: int | None = None,
    overwrite: bool = True,
) -> None:
    """Encode ``image`` to ``path`` atomically (a temporary file renamed into place).

    ``format`` ("png", "jpeg", "tiff", "webp", "bmp"; any case, "jpg"/"tif" too) defaults to
    the one of ``path``'s suffix. ``quality`` (1..100) applies to JPEG (default 95) and WebP
    (default: lossless); lossless formats ignore it. With ``overwrite=False`` an existing file
    is left alone. Raises :class:`UsageError` for a bad ``format``/``quality`` value and
    :class:`ImageWriteError` (one line naming the path) when the file cannot be written.
    """
    path = Path(path)
    fmt = _output_format(path, format)
    _check_quality(quality)
    try:
        data = _encode(image, fmt, quality)
        with atomic_output(path, overwrite=overwrite) as temp, open(temp, "wb") as handle:
            handle.write(data)
    except _Problem as exc:
        raise ImageWriteError(f"{path}: {exc}") from exc
    except FileExistsError as exc:
        raise ImageWriteError(f"{path}: already exists (not overwritten)") from exc
    except OSError as exc:
        raise ImageWriteError(f"{path}: {_os_problem(exc)}") from exc


def _output_format(path: Path, name: str | None) -> str:
    if name is None:
        fmt = format_for_suffix(path.suffix)
        if fmt is None:
            raise ImageWriteError(f"{path}: unknown image suffix {path.suffix!r}; use {_suffix_list()}")
        return fmt
    fmt = format_for_suffix("." + name.lstrip("."))
    if fmt is None:
        raise UsageError(f"unknown image format {name!r}; use {_suffix_list()}")
    return fmt


def _suffix_list() -> str:
    return ", ".join(sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES))


def _check_quality(quality: int | None) -> None:
    if quality is not None and (isinstance(quality, bool) or not 1 <= quality <= 100):
        raise UsageError(f"quality must be an integer from 1 to 100, got {quality!r}")


def _encode(image: ImageFile, fmt: str, quality: int | None) -> bytes:
    """The complete file contents of ``image`` in format ``fmt``."""
    depth = image.bit_depth if fmt in _DEEP_FORMATS else 8
    samples = _fit_channels(_quantize(image.pixels, depth), fmt)
    icc = _matching_icc(image.icc_profile, samples.shape[2])
    if fmt == "TIFF":
        return _encode_tiff(samples, icc, image.exif, image.dpi)
    if fmt == "PNG" and depth == 16:
        return _encode_png16(samples, icc, image.exif, image.dpi)
    options: dict[str, object] = {"icc_profile": icc, "exif": image.exif, "dpi": image.dpi}
    if fmt == "JPEG":
        options.update(quality=quality or JPEG_QUALITY, subsampling=0)  # 0 = 4:4:4 chroma
    elif fmt == "WEBP":
        options.update(quality=quality, lossless=quality is None, exact=True)
        options.pop("dpi")
    elif fmt == "BMP":
        options = {"dpi": image.dpi}
    return _pillow_encode(samples, fmt, options)


def _quantize(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """HWC [0, 1] floats -> uint8/uint16 samples: clipped, then rounded to nearest."""
    if np.isnan(pixels).any():
        raise _Problem("pixels contain NaN")
    top = 2**bit_depth - 1
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    return np.rint(np.clip(pixels, 0.0, 1.0) * top).astype(dtype)


def _fit_channels(samples: np.ndarray, fmt: str) -> np.ndarray:
    """Adapt the channel layout to what ``fmt`` stores (see the module docstring)."""
    channels = samples.shape[2]
    if fmt in _NO_ALPHA_FORMATS and channels in (2, 4):
        if (samples[..., -1] != np.iinfo(samples.dtype).max).any():
            raise _Problem(f"{fmt} cannot store transparency; write PNG, TIFF or WebP instead")
        return samples[..., :-1]
    grey_tiff16_alpha = fmt == "TIFF" and samples.dtype == np.uint16 and channels == 2
    if (fmt == "WEBP" and channels <= 2) or grey_tiff16_alpha:
        return samples[..., [0, 0, 0, 1][: channels + 2]]  # grey -> RGB, grey+alpha -> RGBA
    return samples


def _matching_icc(profile: bytes | None, channels: int) -> bytes | None:
    """``profile`` if its colour space (header bytes 16..19) fits the written samples."""
    wanted = b"GRAY" if channels <= 2 else b"RGB "
    return profile if profile is not None and profile[16:20] == wanted else None


def _pillow_encode(samples: np.ndarray, fmt: str, options: dict[str, object]) -> bytes:
    """Encode 8-bit HWC samples with Pillow; ``None`` options are left out."""
    height, width, channels = samples.shape
    im = Image.frombytes(_MODES_BY_CHANNELS[channels], (width, height), samples.tobytes())
    buffer = io.BytesIO()
    try:
        im.save(buffer, fmt, **{key: value for key, value in options.items() if value is not None})
    except (OSError, ValueError) as exc:
        raise _Problem(f"cannot encode {fmt} ({_one_line(exc)})") from exc
    return buffer.getvalue()


def _encode_png16(samples: np.ndarray, icc: bytes | None, exif: bytes | None, dpi: _Dpi | None) -> bytes:
    """A 16-bit PNG (grey, grey+alpha, RGB or RGBA) of HWC uint16 samples, with metadata."""
    height, width, channels = samples.shape
    header = struct.pack(">IIBBBBB", width, height, 16, _PNG_COLOUR_TYPES[channels], 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", header)]
    if icc:
        chunks.append(_png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(icc)))
    if dpi:
        chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", round(dpi[0] / _INCH), round(dpi[1] / _INCH), 1)))
    if exif:
        chunks.append(_png_chunk(b"eXIf", exif.removeprefix(b"Exif\0\0")))
    rows = samples.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    data = _png_image_data(rows, bytes_per_pixel=channels * 2)
    chunks += [_png_chunk(b"IDAT", data[i : i + _PNG_BLOCK_BYTES]) for i in range(0, len(data), _PNG_BLOCK_BYTES)]
    chunks.append(_png_chunk(b"IEND", b""))
    return _PNG_SIGNATURE + b"".join(chunks)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_image_data(rows: np.ndarray, bytes_per_pixel: int) -> bytes:
    """zlib stream of filtered scanlines for (H, row bytes) uint8 ``rows``."""
    compressor = zlib.compressobj(6)
    block = max(1, _PNG_BLOCK_BYTES // max(1, rows.shape[1]))
    previous = np.zeros(rows.shape[1], dtype=np.uint8)
    out = []
    for start in range(0, rows.shape[0], block):
        chunk = rows[start : start + block]
        out.append(compressor.compress(_png_filter(chunk, previous, bytes_per_pixel).tobytes()))
        previous = chunk[-1]
    out.append(compressor.flush())
    return b"".join(out)


def _png_filter(rows: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """Filter (H, L) uint8 scanlines following row ``previous``: (H, 1 + L) with filter bytes.

    Each row gets the PNG filter (None, Sub, Up, Average, Paeth) whose residuals have the
    smallest sum of absolute signed values, the heuristic the PNG specification suggests.
    """
    x = rows.astype(np.int16)
    up = np.vstack([previous[None], rows[:-1]]).astype(np.int16)
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    up_left = np.zeros_like(x)
    up_left[:, bpp:] = up[:, :-bpp]
    predictions = (0, left, up, (left + up) >> 1, _paeth(left, up, up_left))
    residuals = np.stack([(x - p) & 0xFF for p in predictions]).astype(np.uint8)  # (5, H, L)
    cost = np.abs(residuals.view(np.int8).astype(np.int16)).sum(axis=2, dtype=np.int64)
    best = cost.argmin(axis=0)
    chosen = residuals[best, np.arange(rows.shape[0])]
    return np.hstack([best.astype(np.uint8)[:, None], chosen])


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """PNG Paeth predictor of left ``a``, up ``b``, up-left ``c`` (int arrays, 0..255)."""
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _encode_tiff(samples: np.ndarray, icc: bytes | None, exif: bytes | None, dpi: _Dpi | None) -> bytes:
    """A little-endian TIFF (8/16-bit grey, grey+alpha, RGB, RGBA; deflate + predictor)."""
    height, width, channels = samples.shape
    row_bytes = width * channels * samples.itemsize
    rows_per_strip = max(1, _TIFF_STRIP_BYTES // max(1, row_bytes))
    differences = samples.copy()
    differences[:, 1:] -= samples[:, :-1]  # horizontal predictor, modulo 2**bits
    little = differences.astype(differences.dtype.newbyteorder("<"))
    strips = [zlib.compress(little[y : y + rows_per_strip].tobytes()) for y in range(0, height, rows_per_strip)]
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd.update(_exif_tiff_tags(exif))
    ifd[256], ifd[257] = width, height
    ifd[258] = (samples.itemsize * 8,) * channels  # BitsPerSample
    ifd[259] = 8  # Compression: Adobe deflate
    ifd[262] = 1 if channels <= 2 else 2  # Photometric: min-is-black / RGB
    ifd[273] = tuple(np.cumsum([0] + [len(s) for s in strips[:-1]]).tolist())  # relocated on save
    ifd[277] = channels
    ifd[278] = rows_per_strip
    ifd[279] = tuple(len(s) for s in strips)
    ifd[284] = 1  # PlanarConfiguration: contiguous
    ifd[317] = 2  # Predictor: horizontal differencing
    if channels in (2, 4):
        ifd[338] = (2,)  # ExtraSamples: unassociated alpha
    if dpi:
        ifd[282], ifd[283], ifd[296] = float(dpi[0]), float(dpi[1]), 2  # ResolutionUnit: inch
    if icc:
        ifd[34675] = icc
    buffer = io.BytesIO()
    ifd.save(buffer)
    return buffer.getvalue() + b"".join(strips)


def _exif_tiff_tags(exif: bytes | None) -> dict[int, object]:
    """The descriptive tags (and EXIF/GPS sub-IFDs) of an EXIF block, for a TIFF's IFD0."""
    if not exif:
        return {}
    parsed = Image.Exif()
    try:
        parsed.load(exif)
    except _DECODE_ERRORS as exc:
        raise _Problem(f"invalid EXIF data ({_one_line(exc)})") from exc
    return {
        tag: dict(parsed.get_ifd(tag)) if tag in (_EXIF_IFD, _GPS_IFD) else parsed[tag]
        for tag in _TIFF_EXIF_TAGS
        if tag in parsed
    }


# --------------------------------------------------------------------------- messages


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file or directory"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not an image file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return _one_line(exc.strerror or exc)


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
