"""Encoded test images of every kind the builders must handle, good and bad."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def _pattern(width: int, height: int, seed: int = 0) -> np.ndarray:
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width]
  base = np.stack(
    [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), np.full_like(x, 128)], axis=-1
  )
  return np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8)


def encode(image: Image.Image, fmt: str, **save_kwargs) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=fmt, **save_kwargs)
  return buffer.getvalue()


def rgb(width: int = 40, height: int = 32, fmt: str = "PNG", seed: int = 0) -> bytes:
  return encode(Image.fromarray(_pattern(width, height, seed)), fmt)


def rgba_transparent(size: int = 32) -> bytes:
  """Black strokes on a fully transparent background (black if alpha is dropped)."""
  array = np.zeros((size, size, 4), np.uint8)
  array[size // 4 : size // 2, :, 3] = 255  # opaque black band; rest transparent black
  return encode(Image.fromarray(array, "RGBA"), "PNG")


def palette_gif(size: int = 32) -> bytes:
  return encode(Image.fromarray(_pattern(size, size)).convert("P"), "GIF")


def greyscale(size: int = 32, fmt: str = "PNG") -> bytes:
  return encode(Image.fromarray(_pattern(size, size)[..., 0], "L"), fmt)


def cmyk_jpeg(size: int = 32) -> bytes:
  return encode(Image.fromarray(_pattern(size, size)).convert("CMYK"), "JPEG")


def grey16_png(size: int = 32) -> bytes:
  array = (np.arange(size * size, dtype=np.uint32).reshape(size, size) * 60).astype(np.uint16)
  return encode(Image.fromarray(array), "PNG")


def exif_rotated_jpeg(width: int = 40, height: int = 24, orientation: int = 6) -> bytes:
  image = Image.fromarray(_pattern(width, height))
  exif = Image.Exif()
  exif[0x0112] = orientation
  return encode(image, "JPEG", exif=exif.tobytes())


def truncated_jpeg(size: int = 64) -> bytes:
  data = rgb(size, size, "JPEG")
  return data[: len(data) // 2]


def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
  """A valid PNG header claiming a huge image; the pixel data is never reached."""

  def chunk(kind: bytes, payload: bytes) -> bytes:
    return (
      struct.pack(">I", len(payload))
      + kind
      + payload
      + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )

  header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
  return (
    b"\x89PNG\r\n\x1a\n"
    + chunk(b"IHDR", header)
    + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    + chunk(b"IEND", b"")
  )


NOT_AN_IMAGE = b"this is a text file that someone saved with a .jpg name\n"


def animated_gif(size: int = 16, frames: int = 3) -> bytes:
  images = [Image.fromarray(np.full((size, size, 3), i * 80, np.uint8)) for i in range(frames)]
  buffer = io.BytesIO()
  images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:])
  return buffer.getvalue()


def rgb48_png(width: int = 8, height: int = 6) -> bytes:
  """16 bits per channel RGB PNG (Pillow has no mode to write it; built by hand)."""

  def chunk(kind: bytes, payload: bytes) -> bytes:
    return (
      struct.pack(">I", len(payload))
      + kind
      + payload
      + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )

  pixels = (
    np.arange(width * height * 3, dtype=np.uint32).reshape(height, width * 3) * 1000 % 65536
  ).astype(">u2")
  raw = b"".join(b"\x00" + row.tobytes() for row in pixels)
  header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
  return (
    b"\x89PNG\r\n\x1a\n"
    + chunk(b"IHDR", header)
    + chunk(b"IDAT", zlib.compress(raw))
    + chunk(b"IEND", b"")
  )
