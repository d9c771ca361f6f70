"""Tests for redcli.images: real files of every supported kind, made here with Pillow/numpy."""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from redcli import images
from redcli.errors import ImageReadError, ImageWriteError, UsageError
from redcli.images import ImageFile, format_for_suffix, read_image, write_image

H, W = 12, 17
ORIENTATION = 0x0112
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def random_samples(channels: int, depth: int, seed: int = 0, shape: tuple[int, int] = (H, W)) -> np.ndarray:
    """HWC uint8/uint16 noise; 16-bit values are mostly not multiples of 257."""
    top = 2**depth - 1
    dtype = np.uint16 if depth == 16 else np.uint8
    samples = np.random.default_rng(seed).integers(0, top + 1, (*shape, channels)).astype(dtype)
    samples[0, 0] = 0
    samples[0, 1] = top
    return samples


def pil_image(samples: np.ndarray) -> Image.Image:
    """8-bit HWC samples (or HW1 uint16 as I;16) as a Pillow image."""
    h, w, c = samples.shape
    if samples.dtype == np.uint16:
        assert c == 1
        return Image.frombytes("I;16", (w, h), samples.astype("<u2").tobytes())
    return Image.frombytes(MODES[c], (w, h), samples.tobytes())


def png16(path: Path, samples: np.ndarray, interlace: bool = False) -> Path:
    """Minimal independent 16-bit PNG writer (filter 0, optional Adam7) for fixtures."""
    h, w, c = samples.shape
    big = samples.astype(">u2")
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        subs = [big[y0::dy, x0::dx] for x0, y0, dx, dy in passes]
    else:
        subs = [big]
    raw = b"".join(b"\0" + row.tobytes() for sub in subs if sub.size for row in sub)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, int(interlace))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    return path


def exif_bytes(orientation: int | None = None, make: str = "RedCam") -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    if orientation is not None:
        exif[ORIENTATION] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:01:02 03:04:05"  # DateTimeOriginal
    return exif.tobytes()


def parsed_exif(data: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    assert data is not None
    exif.load(data)
    return exif


def as_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / np.float32(np.iinfo(samples.dtype).max)


def reread(path: Path, image: ImageFile, **options: object) -> ImageFile:
    write_image(path, image, **options)
    return read_image(path)


# ----------------------------------------------------------------- lossless round trips


def _pillow_fixture(channels: int, depth: int, **save: object):
    def make(path: Path) -> np.ndarray:
        samples = random_samples(channels, depth)
        pil_image(samples).save(path, **save)
        return samples

    return make


def _png16_fixture(channels: int):
    def make(path: Path) -> np.ndarray:
        samples = random_samples(channels, 16)
        png16(path, samples)
        return samples

    return make


LOSSLESS = {
    # id: (suffix, fixture maker, expected mode, expected bit depth)
    "png-L8": (".png", _pillow_fixture(1, 8), "L", 8),
    "png-LA8": (".png", _pillow_fixture(2, 8), "LA", 8),
    "png-RGB8": (".png", _pillow_fixture(3, 8), "RGB", 8),
    "png-RGBA8": (".png", _pillow_fixture(4, 8), "RGBA", 8),
    "png-L16": (".png", _pillow_fixture(1, 16), "I;16", 16),
    "png-LA16": (".png", _png16_fixture(2), "LA", 16),
    "png-RGB16": (".png", _png16_fixture(3), "RGB", 16),
    "png-RGBA16": (".png", _png16_fixture(4), "RGBA", 16),
    "tiff-L8": (".tif", _pillow_fixture(1, 8), "L", 8),
    "tiff-LA8": (".tif", _pillow_fixture(2, 8), "LA", 8),
    "tiff-RGB8": (".tiff", _pillow_fixture(3, 8), "RGB", 8),
    "tiff-RGBA8": (".tif", _pillow_fixture(4, 8, compression="tiff_deflate"), "RGBA", 8),
    "tiff-L16": (".tif", _pillow_fixture(1, 16), "I;16", 16),
    "webp-RGB": (".webp", _pillow_fixture(3, 8, lossless=True), "RGB", 8),
    "webp-RGBA": (".webp", _pillow_fixture(4, 8, lossless=True, exact=True), "RGBA", 8),
    "bmp-L": (".bmp", _pillow_fixture(1, 8), "L", 8),
    "bmp-RGB": (".bmp", _pillow_fixture(3, 8), "RGB", 8),
}


@pytest.mark.parametrize("case", LOSSLESS, ids=list(LOSSLESS))
def test_lossless_round_trip_is_exact(tmp_path: Path, case: str) -> None:
    suffix, make, mode, depth = LOSSLESS[case]
    source = tmp_path / f"in{suffix}"
    samples = make(source)
    if case == "webp-RGBA":
        assert (samples[..., 3] == 0).any()  # colour under transparent pixels must survive

    image = read_image(source)
    assert (image.mode, image.bit_depth) == (mode, depth)
    assert image.pixels.dtype == np.float32 and image.pixels.shape == samples.shape
    np.testing.assert_array_equal(image.pixels, as_float(samples))

    again = reread(tmp_path / f"out{suffix}", image)
    assert again.bit_depth == depth and again.format == image.format
    assert again.pixels.shape == samples.shape
    np.testing.assert_array_equal(again.pixels, image.pixels)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_values_survive_write_and_read(tmp_path: Path, channels: int, suffix: str) -> None:
    samples = random_samples(channels, 16, seed=channels, shape=(37, 29))
    assert (samples % 257 != 0).mean() > 0.9  # would collapse under 8-bit truncation
    image = ImageFile(as_float(samples), 16, MODES[channels], "PNG")
    again = reread(tmp_path / f"out{suffix}", image)
    assert again.bit_depth == 16
    expected = samples[..., [0, 0, 0, 1]] if (suffix, channels) == (".tif", 2) else samples  # documented
    np.testing.assert_array_equal(np.rint(again.pixels * 65535).astype(np.uint16), expected)


def _png_filter_types(data: bytes, row_bytes: int) -> set[int]:
    """The filter type bytes of a non-interlaced PNG's scanlines."""
    idat, pos = b"", 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return set(raw[:: row_bytes + 1])


def test_16_bit_png_uses_every_filter_and_stays_exact(tmp_path: Path) -> None:
    y, x = np.mgrid[0:40, 0:80]
    smooth = np.stack([x * 800 + y, y * 1000 + 7 * x, (x * y * 13) % 65536], axis=-1).astype(np.uint16)
    rgb = np.concatenate([smooth, random_samples(3, 16, shape=(40, 80))])
    again = reread(tmp_path / "mixed.png", ImageFile(as_float(rgb), 16, "RGB", "PNG"))
    np.testing.assert_array_equal(np.rint(again.pixels * 65535).astype(np.uint16), rgb)
    assert _png_filter_types((tmp_path / "mixed.png").read_bytes(), 80 * 6) == {0, 1, 2, 3, 4}


def test_written_16_bit_tiff_is_standard(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    samples = random_samples(4, 16)
    write_image(tmp_path / "out.tif", ImageFile(as_float(samples), 16, "RGBA", "TIFF"))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), samples)


@pytest.mark.parametrize("byteorder", ["<", ">"])
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_reads_16_bit_rgb_tiff_from_another_writer(
    tmp_path: Path, byteorder: str, compression: str | None
) -> None:
    tifffile = pytest.importorskip("tifffile")
    samples = random_samples(3, 16)
    path = tmp_path / "in.tif"
    options = {"byteorder": byteorder, "compression": compression, "rowsperstrip": 5}
    tifffile.imwrite(path, samples, photometric="rgb", **options)
    image = read_image(path)
    assert (image.mode, image.bit_depth, image.format) == ("RGB", 16, "TIFF")
    np.testing.assert_array_equal(image.pixels, as_float(samples))


def test_reads_interlaced_16_bit_png(tmp_path: Path) -> None:
    samples = random_samples(3, 16)
    image = read_image(png16(tmp_path / "adam7.png", samples, interlace=True))
    np.testing.assert_array_equal(image.pixels, as_float(samples))


# ----------------------------------------------------------------- palette and transparency


@pytest.mark.parametrize("transparent", [False, True])
def test_palette_is_read_as_its_colours_and_written_as_rgb(tmp_path: Path, transparent: bool) -> None:
    palette = np.random.default_rng(1).integers(0, 256, (256, 3), dtype=np.uint8)
    indices = np.random.default_rng(2).integers(0, 16, (H, W), dtype=np.uint8)
    im = Image.frombytes("P", (W, H), indices.tobytes())
    im.putpalette(palette.tobytes())
    im.save(tmp_path / "p.png", **({"transparency": 3} if transparent else {}))

    image = read_image(tmp_path / "p.png")
    assert image.mode == "P" and image.bit_depth == 8
    np.testing.assert_array_equal(image.pixels[..., :3], as_float(palette[indices]))
    if transparent:
        np.testing.assert_array_equal(image.pixels[..., 3], np.where(indices == 3, 0.0, 1.0))
    assert image.pixels.shape[2] == (4 if transparent else 3)

    again = reread(tmp_path / "out.png", image)
    assert again.mode == ("RGBA" if transparent else "RGB")
    np.testing.assert_array_equal(again.pixels, image.pixels)


def test_colour_key_transparency_becomes_alpha(tmp_path: Path) -> None:
    rgb = random_samples(3, 8)
    rgb[2, 3] = (10, 20, 30)
    pil_image(rgb).save(tmp_path / "key8.png", transparency=(10, 20, 30))
    image = read_image(tmp_path / "key8.png")
    assert image.pixels.shape[2] == 4 and image.pixels[2, 3, 3] == 0.0 and image.pixels[0, 0, 3] == 1.0

    grey = random_samples(1, 16)
    grey[5, 5] = 4321
    pil_image(grey).save(tmp_path / "key16.png", transparency=4321)
    image = read_image(tmp_path / "key16.png")
    assert image.bit_depth == 16 and image.pixels.shape[2] == 2
    np.testing.assert_array_equal(image.pixels[..., 1], np.where(grey[..., 0] == 4321, 0.0, 1.0))


# ----------------------------------------------------------------- orientation and metadata


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pillow_and_reset(tmp_path: Path, orientation: int) -> None:
    samples = random_samples(3, 8)
    path = tmp_path / "o.png"
    pil_image(samples).save(path, exif=exif_bytes(orientation), dpi=(300, 72))
    with Image.open(path) as im:
        upright = np.asarray(ImageOps.exif_transpose(im))

    image = read_image(path)
    np.testing.assert_array_equal(image.pixels, as_float(upright))
    assert parsed_exif(image.exif)[ORIENTATION] == 1
    assert parsed_exif(image.exif)[0x010F] == "RedCam"
    assert image.dpi == ((72.0, 300.0) if orientation >= 5 else (300.0, 72.0))

    again = reread(tmp_path / "out.png", image)  # not rotated twice
    np.testing.assert_array_equal(again.pixels, image.pixels)
    assert parsed_exif(again.exif)[ORIENTATION] == 1


def test_orientation_6_rotates_clockwise_for_16_bit_colour(tmp_path: Path) -> None:
    samples = random_samples(3, 16)
    stored = ImageFile(as_float(samples), 16, "RGB", "PNG", exif=exif_bytes(6))
    image = reread(tmp_path / "o16.png", stored)
    assert image.pixels.shape == (W, H, 3)
    np.testing.assert_array_equal(image.pixels, np.rot90(as_float(samples), -1))
    assert image.pixels[0, -1].tolist() == stored.pixels[0, 0].tolist()  # top-left goes top-right
    assert parsed_exif(image.exif)[ORIENTATION] == 1


METADATA_CASES = [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".jpg", 8), (".webp", 8)]


@pytest.mark.parametrize(("suffix", "depth"), METADATA_CASES)
def test_icc_and_exif_are_carried(tmp_path: Path, suffix: str, depth: int) -> None:
    image = ImageFile(as_float(random_samples(3, depth)), depth, "RGB", "PNG", SRGB, exif_bytes(1))
    again = reread(tmp_path / f"meta{suffix}", image)
    assert again.icc_profile == SRGB
    exif = parsed_exif(again.exif)
    assert exif[0x010F] == "RedCam" and exif[ORIENTATION] == 1
    assert exif.get_ifd(0x8769)[0x9003] == "2024:01:02 03:04:05"


def test_icc_is_read_from_pillow_written_files(tmp_path: Path) -> None:
    for suffix in (".png", ".jpg", ".tif", ".webp"):
        pil_image(random_samples(3, 8)).save(tmp_path / f"icc{suffix}", icc_profile=SRGB)
        assert read_image(tmp_path / f"icc{suffix}").icc_profile == SRGB


def test_rgb_profile_is_not_attached_to_grey_output(tmp_path: Path) -> None:
    grey = ImageFile(as_float(random_samples(1, 8)), 8, "L", "PNG", icc_profile=SRGB)
    assert reread(tmp_path / "grey.png", grey).icc_profile is None
    assert reread(tmp_path / "grey.tif", grey).icc_profile is None


@pytest.mark.parametrize(("suffix", "depth"), [*METADATA_CASES[:4], (".jpg", 8), (".bmp", 8)])
def test_dpi_is_carried(tmp_path: Path, suffix: str, depth: int) -> None:
    image = ImageFile(as_float(random_samples(3, depth)), depth, "RGB", "PNG", dpi=(300.0, 72.0))
    assert reread(tmp_path / f"dpi{suffix}", image).dpi == (300.0, 72.0)


def test_no_metadata_stays_none(tmp_path: Path) -> None:
    pil_image(random_samples(3, 8)).save(tmp_path / "plain.png")
    image = read_image(tmp_path / "plain.png")
    assert (image.icc_profile, image.exif, image.dpi) == (None, None, None)


# ----------------------------------------------------------------- lossy and 8-bit-only formats


def test_jpeg_quality_changes_size(tmp_path: Path) -> None:
    image = ImageFile(as_float(random_samples(3, 8, shape=(64, 64))), 8, "RGB", "PNG")
    write_image(tmp_path / "low.jpg", image, quality=30)
    write_image(tmp_path / "default.jpg", image)
    write_image(tmp_path / "q95.jpeg", image, quality=95)
    sizes = [os.path.getsize(tmp_path / name) for name in ("low.jpg", "default.jpg", "q95.jpeg")]
    assert sizes[0] < sizes[1] == sizes[2]


def test_webp_is_lossless_by_default_and_lossy_with_quality(tmp_path: Path) -> None:
    image = ImageFile(as_float(random_samples(4, 8, shape=(48, 48))), 8, "RGBA", "PNG")
    np.testing.assert_array_equal(reread(tmp_path / "lossless.webp", image).pixels, image.pixels)
    lossy = reread(tmp_path / "lossy.webp", image, quality=50)
    assert not np.array_equal(lossy.pixels, image.pixels)
    assert os.path.getsize(tmp_path / "lossy.webp") < os.path.getsize(tmp_path / "lossless.webp")


def test_grey_webp_is_stored_as_rgb(tmp_path: Path) -> None:
    samples = random_samples(2, 8)
    again = reread(tmp_path / "grey.webp", ImageFile(as_float(samples), 8, "LA", "PNG"))
    np.testing.assert_array_equal(again.pixels, as_float(samples[..., [0, 0, 0, 1]]))


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_in_formats_without_alpha(tmp_path: Path, suffix: str) -> None:
    samples = random_samples(4, 8)
    samples[..., 3] = 255
    opaque = reread(tmp_path / f"opaque{suffix}", ImageFile(as_float(samples), 8, "RGBA", "PNG"))
    assert opaque.pixels.shape == (H, W, 3)  # an all-opaque alpha is dropped, nothing lost

    samples[1, 1, 3] = 7
    target = tmp_path / f"alpha{suffix}"
    with pytest.raises(ImageWriteError, match="cannot store transparency") as info:
        write_image(target, ImageFile(as_float(samples), 8, "RGBA", "PNG"))
    assert str(target) in str(info.value) and not target.exists()


def test_16_bit_to_8_bit_format_rounds(tmp_path: Path) -> None:
    values = np.array([[[100.6 / 255], [100.4 / 255], [-0.5], [1.5], [0.5]]], dtype=np.float32)
    again = reread(tmp_path / "r.png", ImageFile(values, 16, "I;16", "PNG"), format="bmp")
    assert again.format == "BMP" and again.bit_depth == 8
    assert np.rint(again.pixels[0, :, 0] * 255).tolist() == [101, 100, 0, 255, 128]


def test_cmyk_and_grey_jpeg(tmp_path: Path) -> None:
    Image.new("CMYK", (W, H), (10, 20, 30, 40)).save(tmp_path / "cmyk.jpg")
    image = read_image(tmp_path / "cmyk.jpg")
    assert image.mode == "CMYK" and image.pixels.shape == (H, W, 3) and image.format == "JPEG"
    expected = Image.new("CMYK", (1, 1), (10, 20, 30, 40)).convert("RGB").getpixel((0, 0))
    np.testing.assert_allclose(image.pixels[H // 2, W // 2] * 255, expected, atol=3)

    pil_image(random_samples(1, 8)).save(tmp_path / "grey.jpg")
    assert read_image(tmp_path / "grey.jpg").pixels.shape == (H, W, 1)


def test_multi_picture_jpeg_reads_the_first_picture(tmp_path: Path) -> None:
    first, second = Image.new("RGB", (W, H), (200, 10, 10)), Image.new("RGB", (W, H), (10, 10, 200))
    first.save(tmp_path / "phone.jpg", "MPO", save_all=True, append_images=[second])
    image = read_image(tmp_path / "phone.jpg")
    assert image.format == "JPEG" and image.pixels[0, 0, 0] > 0.7


# ----------------------------------------------------------------- bad inputs


def _animated(path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "green", "blue")]
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100)


def _truncated_png(path: Path) -> None:
    buffer = io.BytesIO()
    pil_image(random_samples(3, 8, shape=(64, 64))).save(buffer, "PNG", compress_level=0)
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


def _truncated_jpeg(path: Path) -> None:
    buffer = io.BytesIO()
    pil_image(random_samples(3, 8, shape=(64, 64))).save(buffer, "JPEG")
    path.write_bytes(buffer.getvalue()[:-200])


def _corrupt_png(path: Path) -> None:
    buffer = io.BytesIO()
    pil_image(random_samples(3, 8)).save(buffer, "PNG")
    data = bytearray(buffer.getvalue())
    idat = data.index(b"IDAT")
    data[idat + 10 : idat + 30] = bytes(20)
    path.write_bytes(bytes(data))


BAD_INPUTS = {
    "missing": (lambda p: None, "no such file"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
    "empty": (lambda p: p.write_bytes(b""), "empty file"),
    "text": (lambda p: p.write_text("hello, not an image\n"), "not an image"),
    "truncated-png": (_truncated_png, "truncated"),
    "truncated-jpeg": (_truncated_jpeg, "truncated"),
    "corrupt-png": (_corrupt_png, "corrupt"),
    "float-tiff": (lambda p: Image.new("F", (4, 4)).save(p, "TIFF"), "unsupported pixel mode 'F'"),
    "animated-gif": (lambda p: _animated(p, "GIF"), "animated images are not supported (3 frames)"),
    "animated-webp": (lambda p: _animated(p, "WEBP"), "animated images are not supported (3 frames)"),
    "animated-png": (lambda p: _animated(p, "PNG"), "animated images are not supported (3 frames)"),
    "multipage-tiff": (lambda p: _animated(p, "TIFF"), "multi-page TIFF files are not supported (3 pages)"),
    "still-gif": (lambda p: Image.new("P", (4, 4)).save(p, "GIF"), "unsupported image format GIF"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_inputs_give_one_line_errors_naming_the_file(tmp_path: Path, case: str) -> None:
    make, problem = BAD_INPUTS[case]
    path = tmp_path / f"bad-{case}.img"
    make(path)
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes about damaged metadata
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "WEBP", "BMP", "GIF"])
def test_damaged_files_give_only_read_errors(tmp_path: Path, fmt: str) -> None:
    """Random byte damage: every outcome is an image or an ImageReadError, never a crash."""
    buffer = io.BytesIO()
    pil_image(random_samples(3, 8)).save(buffer, fmt, exif=exif_bytes(6))
    original = buffer.getvalue()
    rng = np.random.default_rng(7)
    path = tmp_path / "damaged"
    for _ in range(40):
        data = bytearray(original)
        positions = rng.integers(0, len(data), 4)
        for position in positions:
            data[position] = int(rng.integers(0, 256))
        path.write_bytes(bytes(data[: int(rng.integers(len(data) // 2, len(data) + 1))]))
        try:
            read_image(path)
        except ImageReadError as error:
            assert str(error).startswith(f"{path}: ") and "\n" not in str(error)


def test_truncated_images_stay_errors() -> None:
    from PIL import ImageFile as PillowImageFile

    assert PillowImageFile.LOAD_TRUNCATED_IMAGES is False


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bomb.png"
    pil_image(random_samples(3, 8)).save(path)
    monkeypatch.setattr(images, "MAX_PIXELS", H * W - 1)
    with pytest.raises(ImageReadError, match=f"{path.name}: image too large: {W}x{H}"):
        read_image(path)
    monkeypatch.setattr(images, "MAX_PIXELS", H * W)
    read_image(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # Pillow's own hard limit (2x) also applies
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(path)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.png"
    pil_image(random_samples(3, 8)).save(path)
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads anything: simulate the refusal

        def refuse(*args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        monkeypatch.setattr(images, "open", refuse, raising=False)
    try:
        with pytest.raises(ImageReadError, match="secret.png: permission denied"):
            read_image(path)
    finally:
        path.chmod(0o644)


# ----------------------------------------------------------------- writing: choices and failures


def test_format_option_and_suffixes(tmp_path: Path) -> None:
    assert format_for_suffix(".JPG") == "JPEG" and format_for_suffix(".tif") == "TIFF"
    assert format_for_suffix(".gif") is None
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"} == images.SUPPORTED_SUFFIXES
    image = ImageFile(as_float(random_samples(3, 8)), 8, "RGB", "PNG")
    write_image(tmp_path / "named.out", image, format="WebP")
    assert read_image(tmp_path / "named.out").format == "WEBP"
    with pytest.raises(ImageWriteError, match="unknown image suffix"):
        write_image(tmp_path / "x.gif", image)
    with pytest.raises(UsageError, match="unknown image format 'gif'"):
        write_image(tmp_path / "x.png", image, format="gif")
    for bad in (0, 101, True):
        with pytest.raises(UsageError, match="quality"):
            write_image(tmp_path / "x.jpg", image, quality=bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["named.out"]


def test_overwrite_false_keeps_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")
    image = ImageFile(as_float(random_samples(3, 8)), 8, "RGB", "PNG")
    with pytest.raises(ImageWriteError, match="keep.png: already exists"):
        write_image(target, image, overwrite=False)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["keep.png"]
    write_image(target, image)
    assert read_image(target).format == "PNG"


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()])
def test_interrupted_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    def fail(fd: int) -> None:
        raise failure

    monkeypatch.setattr(os, "fsync", fail)
    image = ImageFile(as_float(random_samples(3, 16)), 16, "RGB", "PNG")
    expected = ImageWriteError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as info:
        write_image(tmp_path / "out.png", image)
    if expected is ImageWriteError:
        assert str(info.value) == f"{tmp_path / 'out.png'}: No space left on device"
    assert list(tmp_path.iterdir()) == []


def test_write_errors(tmp_path: Path) -> None:
    image = ImageFile(as_float(random_samples(3, 8)), 8, "RGB", "PNG")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(ImageWriteError, match="folder.png: is a directory"):
        write_image(tmp_path / "folder.png", image)
    with pytest.raises(ImageWriteError, match="NaN"):
        write_image(tmp_path / "nan.png", image.with_pixels(np.full((2, 2, 3), np.nan)))
    assert [p.name for p in tmp_path.iterdir()] == ["folder.png"]


# ----------------------------------------------------------------- the dataclass


def test_image_file_helpers() -> None:
    image = ImageFile(np.zeros((2, 3, 1), np.float32), 8, "L", "PNG", dpi=(72.0, 96.0))
    bigger = image.with_pixels(np.ones((4, 6, 1)), dpi_scale=2)
    assert bigger.pixels.dtype == np.float32 and bigger.pixels.shape == (4, 6, 1)
    assert bigger.dpi == (144.0, 192.0) and image.with_pixels(image.pixels).dpi == image.dpi
    assert (bigger.mode, bigger.format, bigger.bit_depth) == ("L", "PNG", 8)
    assert dataclasses.replace(image, dpi=None).with_pixels(image.pixels, dpi_scale=2).dpi is None
    with pytest.raises(ValueError, match="HWC"):
        ImageFile(np.zeros((2, 3), np.float32), 8, "L", "PNG")
    with pytest.raises(ValueError, match="bit_depth"):
        ImageFile(np.zeros((2, 3, 3), np.float32), 12, "RGB", "PNG")
