"""Robust image decoding to uint8 RGB, shared by the builders, predict mode and the audit.

Real competition data mixes JPEG/PNG/GIF/BMP/WebP, RGBA PNGs (which turn black if the
alpha is dropped naively), greyscale, palette, 16-bit and CMYK files, EXIF-rotated
photos and multi-megapixel scans. `decode_image` turns any of them into an RGB array
and says what it had to fix; anything it cannot decode raises `ImageDecodeError` with
a short reason, so callers can skip the file and list it instead of crashing.
"""

from __future__ import annotations

import dataclasses
import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

# Largest image (in pixels) we agree to decode. Pillow's own default (~89 Mpx) lets a
# crafted file allocate gigabytes; the largest real competition images are
# 2480x3508 (8.7 Mpx) and sides go up to 5,000 px, so 64 Mpx leaves ample room.
MAX_IMAGE_PIXELS = 64 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
# Pillow only warns between MAX_IMAGE_PIXELS and twice that (and raises above): make the
# warning an error process-wide (a per-call warnings.catch_warnings is not thread-safe).
# _open() also checks the size itself, so a filter reset (pytest does) changes nothing.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

_WHITE = (255, 255, 255)
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_GREY_MODES = ("L", "1")
_HIGH_BIT_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


class ImageDecodeError(ValueError):
  """An image that cannot be decoded.

  `reason` is one of a few fixed phrases (so reports can count by it), `detail` says
  what exactly was wrong.
  """

  def __init__(self, source_name: str, reason: str, detail: str = ""):
    super().__init__(f"{source_name}: {reason}" + (f" ({detail})" if detail else ""))
    self.source_name = source_name
    self.reason = reason
    self.detail = detail


@dataclasses.dataclass(frozen=True)
class DecodedImage:
  pixels: np.ndarray  # uint8 [H, W, 3]
  fixes: tuple[str, ...]  # what was converted, e.g. "CMYK -> RGB"; empty if nothing
  source_format: str  # Pillow format name, e.g. "JPEG"
  source_size: tuple[int, int]  # (width, height) as stored in the file


def _read_bytes(source: str | os.PathLike | bytes, name: str) -> bytes:
  if isinstance(source, (bytes, bytearray, memoryview)):
    return bytes(source)
  try:
    with open(source, "rb") as f:
      return f.read()
  except OSError as e:
    raise ImageDecodeError(name, "cannot read file", str(e.strerror or e)) from None


def _open(data: bytes, name: str, max_pixels: int) -> Image.Image:
  """Opens (header only) and enforces the pixel limit before any pixel is decoded."""
  try:
    image = Image.open(io.BytesIO(data))
  except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
    raise ImageDecodeError(name, "decompression bomb", str(e)) from None
  except Image.UnidentifiedImageError:
    raise ImageDecodeError(name, "not an image", "format not recognised") from None
  except Exception as e:  # Pillow plugins raise many types on malformed headers.
    raise ImageDecodeError(name, "corrupt image header", f"{type(e).__name__}: {e}") from None
  width, height = image.size
  if width * height > max_pixels:
    raise ImageDecodeError(
      name, "decompression bomb", f"{width}x{height} = {width * height} pixels > limit {max_pixels}"
    )
  if width == 0 or height == 0:
    raise ImageDecodeError(name, "empty image", f"{width}x{height}")
  return image


def _to_8bit(image: Image.Image) -> Image.Image:
  """16-bit / 32-bit greyscale -> 8-bit L, scaling the full range instead of clipping."""
  array = np.asarray(image).astype(np.float64)
  if image.mode.startswith("I;16"):
    top = 65535.0
  else:  # "I" (16-bit PNGs open as I too) or "F": scale by the observed maximum.
    top = 65535.0 if array.max(initial=0) > 255 else 255.0
  return Image.fromarray(np.clip(np.rint(array * (255.0 / top)), 0, 255).astype(np.uint8), "L")


def _to_rgb(image: Image.Image, fixes: list[str]) -> Image.Image:
  mode = image.mode
  if mode == "RGB":
    return image
  if mode == "P":
    if "transparency" in image.info:
      image, mode = image.convert("RGBA"), "palette+transparency"
    else:
      fixes.append("palette -> RGB")
      return image.convert("RGB")
  if mode in _ALPHA_MODES or mode == "palette+transparency":
    fixes.append(f"{mode} alpha composited on white")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _WHITE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")
  if mode in _GREY_MODES:
    fixes.append(f"greyscale ({mode}) -> RGB")
    return image.convert("RGB")
  if mode in _HIGH_BIT_DEPTH_MODES:
    fixes.append(f"high bit depth ({mode}) -> 8-bit RGB")
    return _to_8bit(image).convert("RGB")
  fixes.append(f"{mode} -> RGB")  # CMYK, YCbCr, LAB, HSV.
  return image.convert("RGB")


def _downscaled(image: Image.Image, shorter_side: int) -> Image.Image:
  width, height = image.size
  scale = shorter_side / min(width, height)
  size = (max(1, round(width * scale)), max(1, round(height * scale)))
  return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def decode_image(
  source: str | os.PathLike | bytes,
  *,
  name: str | None = None,
  shorter_side: int | None = None,
  max_pixels: int = MAX_IMAGE_PIXELS,
) -> DecodedImage:
  """Decodes any supported image file to uint8 RGB.

  Args:
    source: a file path or the encoded bytes.
    name: how to call the image in errors (defaults to the path, or "<bytes>").
    shorter_side: if set, images whose shorter side is larger are downscaled so that
      it equals this value (aspect ratio kept); smaller images are left as they are.
      Downscaling is not listed in `fixes` (it is routine, not a repair).
    max_pixels: refuse images with more pixels than this (decompression bombs).

  Returns:
    DecodedImage with the pixels and the list of fixes applied.

  Raises:
    ImageDecodeError: unreadable, empty, not an image, truncated/corrupt, or too large.
  """
  if name is None:
    name = "<bytes>" if isinstance(source, (bytes, bytearray, memoryview)) else os.fspath(source)
  data = _read_bytes(source, name)
  if not data:
    raise ImageDecodeError(name, "empty file", "0 bytes")
  image = _open(data, name, max_pixels)
  source_format, source_size = image.format or "unknown", image.size
  fixes: list[str] = []
  try:
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
      fixes.append(f"first of {frames} frames kept")
    if shorter_side and image.format == "JPEG" and min(image.size) > shorter_side:
      # Let libjpeg decode at 1/2, 1/4 or 1/8 scale (never below the target): a
      # 2480x3508 scan then costs a fraction of a full decode.
      scale = shorter_side / min(image.size)
      image.draft(None, (int(image.size[0] * scale) + 1, int(image.size[1] * scale) + 1))
    image.load()
  except Exception as e:  # Truncated data, bad CRC, broken codec stream, ...
    raise ImageDecodeError(name, "truncated or corrupt image", f"{type(e).__name__}: {e}") from None
  if (
    source_format == "PNG"
    and len(data) > 24
    and data[24] == 16
    and image.mode not in _HIGH_BIT_DEPTH_MODES
  ):
    fixes.append("16-bit PNG -> 8-bit")  # Pillow reads 48/64-bit PNGs as 8-bit RGB(A)
  try:
    orientation = image.getexif().get(0x0112, 1)
  except Exception:  # A broken EXIF block must not cost us the image.
    orientation = 1
    fixes.append("unreadable EXIF ignored")
  if orientation in range(2, 9):
    try:
      image = ImageOps.exif_transpose(image)
      fixes.append(f"EXIF orientation {orientation} applied")
    except Exception:
      fixes.append(f"EXIF orientation {orientation} could not be applied")
  image = _to_rgb(image, fixes)
  if shorter_side and min(image.size) > shorter_side:
    image = _downscaled(image, shorter_side)
  pixels = np.asarray(image, dtype=np.uint8)
  if pixels.ndim != 3 or pixels.shape[2] != 3:  # Defensive: every branch above yields RGB.
    raise ImageDecodeError(name, "unexpected decoded shape", str(pixels.shape))
  return DecodedImage(pixels, tuple(fixes), source_format, source_size)


def downscale_to_shorter_side(pixels: np.ndarray, shorter_side: int) -> np.ndarray:
  """Downscales uint8 RGB so the shorter side is `shorter_side`; smaller images unchanged."""
  if min(pixels.shape[:2]) <= shorter_side:
    return pixels
  return np.asarray(_downscaled(Image.fromarray(pixels, "RGB"), shorter_side), dtype=np.uint8)


def load_image_rgb(
  source: str | os.PathLike | bytes,
  *,
  name: str | None = None,
  shorter_side: int | None = None,
  max_pixels: int = MAX_IMAGE_PIXELS,
) -> np.ndarray:
  """Decodes an image to uint8 RGB [H, W, 3]; see `decode_image` for arguments and errors."""
  return decode_image(source, name=name, shorter_side=shorter_side, max_pixels=max_pixels).pixels


def encode_png(pixels: np.ndarray, compress_level: int = 1) -> bytes:
  """PNG bytes of a uint8 RGB array. Level 1: prepare time matters more than a few % of disk."""
  buffer = io.BytesIO()
  Image.fromarray(pixels, "RGB").save(buffer, format="PNG", compress_level=compress_level)
  return buffer.getvalue()
