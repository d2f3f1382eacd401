"""decode.load_image_rgb on every kind of input; `import abstract_cls.data` registers builders."""

import subprocess
import sys
import warnings

import image_fixtures as images
import numpy as np
import pytest

from abstract_cls.data import decode
from abstract_cls.data.builders.aihub_abstract import aihub_abstract_dataset_builder as aihub

# As in production (decode.py sets it; pytest resets warning filters per test).
pytestmark = pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")


@pytest.mark.parametrize(
  "data, fix",
  [
    (images.rgb(), None),
    (images.rgba_transparent(), "RGBA alpha composited on white"),
    (images.palette_gif(), "palette -> RGB"),
    (images.greyscale(), "greyscale (L) -> RGB"),
    (images.cmyk_jpeg(), "CMYK -> RGB"),
    (images.grey16_png(), "high bit depth (I;16) -> 8-bit RGB"),
    (images.exif_rotated_jpeg(), "EXIF orientation 6 applied"),
    (images.rgb48_png(), "16-bit PNG -> 8-bit"),
  ],
  ids=["rgb", "rgba", "palette", "grey", "cmyk", "grey16", "exif", "rgb48"],
)
def test_repairable_images_decode_to_uint8_rgb(data, fix):
  decoded = decode.decode_image(data)
  assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape[2] == 3
  assert decoded.fixes == ((fix,) if fix else ())


def test_animated_image_keeps_the_first_frame():
  decoded = decode.decode_image(images.animated_gif())
  assert decoded.fixes == ("first of 3 frames kept", "palette -> RGB")
  assert (decoded.pixels == 0).all()


def test_sixteen_bit_uses_the_full_range():
  pixels = decode.load_image_rgb(images.grey16_png())
  assert pixels.max() > 200  # not clipped to 255 of 65535, nor left dark


@pytest.mark.parametrize(
  "data, reason",
  [
    (images.truncated_jpeg(), "truncated or corrupt image"),
    (images.NOT_AN_IMAGE, "not an image"),
    (b"", "empty file"),
    (images.bomb_png(), "decompression bomb"),
    (images.bomb_png(9000, 9000), "decompression bomb"),
  ],
  ids=["truncated", "text", "zero_bytes", "bomb", "bomb_in_warning_range"],
)
def test_bad_images_raise_with_a_reason(data, reason):
  with pytest.raises(decode.ImageDecodeError) as error:
    decode.load_image_rgb(data, name="x.jpg")
  assert error.value.reason == reason and "x.jpg" in str(error.value)


def test_lower_pixel_limit_and_missing_file(tmp_path):
  with pytest.raises(decode.ImageDecodeError, match="decompression bomb"):
    decode.load_image_rgb(images.rgb(100, 100), max_pixels=50 * 50)
  with pytest.raises(decode.ImageDecodeError, match="cannot read file"):
    decode.load_image_rgb(tmp_path / "absent.png")
  assert decode.MAX_IMAGE_PIXELS == decode.Image.MAX_IMAGE_PIXELS


def test_downscale_keeps_aspect_and_small_images():
  pixels = decode.load_image_rgb(images.rgb(600, 400, "JPEG"), shorter_side=100)
  assert pixels.shape == (100, 150, 3)
  assert decode.load_image_rgb(images.rgb(50, 40), shorter_side=100).shape == (40, 50, 3)


@pytest.mark.parametrize(
  "value, expected",
  [
    ("[10, 10, 180, 180]", (10, 10, 180, 180)),
    ([1, 2, 3, 4], (1, 2, 3, 4)),
    ("[10, 10, 0, 5]", None),
    ("10,10,5,5", None),
    ("[1, 2, 3]", None),
    (None, None),
  ],
)
def test_parse_bbox(value, expected):
  assert aihub.parse_bbox(value) == expected


def test_import_registers_all_builders_without_jax():
  code = (
    "import sys, abstract_cls.data, tensorflow_datasets as tfds; "
    "names = set(tfds.list_builders(with_community_datasets=False)); "
    "print(all(n in names for n in ('abstract_icons', 'dcc2022', 'aihub_abstract')), "
    "'jax' in sys.modules)"
  )
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert out.stdout.split() == ["True", "False"]


def test_bomb_rejected_even_if_pillow_warnings_are_ignored():
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    with pytest.raises(decode.ImageDecodeError, match="decompression bomb"):
      decode.load_image_rgb(images.bomb_png(9000, 9000))
