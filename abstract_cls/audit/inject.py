"""Contamination injection: a copy of a data set with known duplicates and real photographs added.

Writes the competition folder layout (split/L2_xx/file) so `python -m abstract_cls.audit
--folder=OUT` audits it, plus `injected.json`, the ground truth:
  {"duplicates": [{"file", "source", "transform", "params"}...],
   "photos": [{"file", "photo", "box"}...], "originals": [file...], "options": {...}}
Files are relative to OUT. Duplicates are re-encoded (JPEG), resized, cropped (<= 10% of each
side in total) or flipped copies of random originals, in the same class and a random split (so
some leak across splits). Photos are random crops of the photographs scikit-image and
scikit-learn ship (the only offline photos found), resized and saved as JPEG into the classes
that held photos in the competition data.
"""

from __future__ import annotations

import dataclasses
import io
import json
import pathlib

import numpy as np
from PIL import Image

from abstract_cls.audit import sources

DUPLICATE_TRANSFORMS = ("jpeg", "resize", "crop", "flip")
# The competition's photos sat in these five classes (dcc2022 README).
PHOTO_CLASSES = ("L2_3", "L2_12", "L2_24", "L2_41", "L2_50")
_SPLIT_FOLDER = {"validation": "valid"}
SKIMAGE_PHOTOS = (
  "astronaut",
  "brick",
  "camera",
  "chelsea",
  "coffee",
  "coins",
  "grass",
  "gravel",
  "hubble_deep_field",
  "immunohistochemistry",
  "moon",
  "retina",
  "rocket",
)


@dataclasses.dataclass
class InjectOptions:
  num_duplicates: int = 200
  num_photos: int = 100
  seed: int = 0
  max_crop: float = 0.10  # fraction of width/height a crop may remove
  cross_split_fraction: float = 0.3  # duplicates placed in another split than their source


def shipped_photos() -> dict[str, np.ndarray]:
  """Real photographs shipped by installed packages, name -> uint8 RGB."""
  from sklearn import datasets  # pylint: disable=import-outside-toplevel

  sample = datasets.load_sample_images()
  photos = {pathlib.Path(f).stem: img for f, img in zip(sample.filenames, sample.images)}
  try:
    from skimage import data  # pylint: disable=import-outside-toplevel
  except ImportError:
    return photos  # scikit-learn's two photos still make a (small) injection
  for name in SKIMAGE_PHOTOS:
    photos[name] = getattr(data, name)()
  left, right, _ = data.stereo_motorcycle()
  photos["motorcycle_left"], photos["motorcycle_right"] = left, right
  out = {}
  for name, img in photos.items():
    img = np.asarray(img)
    if img.ndim == 2:
      img = np.repeat(img[..., None], 3, axis=-1)
    out[name] = np.ascontiguousarray(img[..., :3].astype(np.uint8))
  return out


def _encode(img: Image.Image, fmt: str, quality: int = 90) -> bytes:
  buf = io.BytesIO()
  if fmt == "JPEG":
    img.convert("RGB").save(buf, "JPEG", quality=quality)
  else:
    img.save(buf, "PNG")
  return buf.getvalue()


def transform_copy(
  img: Image.Image, transform: str, rng: np.random.Generator, max_crop: float
) -> tuple[bytes, str, dict]:
  """One edited copy -> (encoded bytes, suffix, params)."""
  img = img.convert("RGB")
  if transform == "jpeg":
    quality = int(rng.integers(30, 91))
    return _encode(img, "JPEG", quality), ".jpg", {"quality": quality}
  if transform == "resize":
    scale = float(rng.choice([rng.uniform(0.5, 0.9), rng.uniform(1.1, 2.5)]))
    size = (max(8, round(img.width * scale)), max(8, round(img.height * scale)))
    return _encode(img.resize(size, Image.Resampling.LANCZOS), "PNG"), ".png", {"scale": scale}
  if transform == "crop":
    fx, fy = rng.uniform(0.03, max_crop, size=2)
    left = rng.uniform(0, fx) * img.width
    top = rng.uniform(0, fy) * img.height
    box = (
      round(left),
      round(top),
      round(left + (1 - fx) * img.width),
      round(top + (1 - fy) * img.height),
    )
    return _encode(img.crop(box), "PNG"), ".png", {"box": list(box), "size": list(img.size)}
  if transform == "flip":
    return _encode(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT), "PNG"), ".png", {}
  raise ValueError(f"unknown transform {transform!r}; known: {DUPLICATE_TRANSFORMS}")


def random_photo_crop(photo: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, list]:
  h, w = photo.shape[:2]
  side = rng.uniform(0.35, 0.9) * min(h, w)
  aspect = rng.uniform(0.75, 1.33)
  cw, ch = min(w, round(side * aspect)), min(h, round(side / aspect))
  x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
  crop = Image.fromarray(photo[y : y + ch, x : x + cw])
  target = int(rng.integers(200, 501))
  scale = target / max(cw, ch)
  crop = crop.resize(
    (max(8, round(cw * scale)), max(8, round(ch * scale))), Image.Resampling.LANCZOS
  )
  return crop, [x, y, cw, ch]


def _folder(split: str) -> str:
  return _SPLIT_FOLDER.get(split, split)


def inject(source, out_dir: str | pathlib.Path, options: InjectOptions | None = None) -> dict:
  """Writes originals + injected files under out_dir and returns the ground truth."""
  options = options or InjectOptions()
  rng = np.random.default_rng(options.seed)
  out = pathlib.Path(out_dir)
  out.mkdir(parents=True, exist_ok=True)
  items = source.items
  splits = sorted({it.split for it in items}, key=sources.split_rank)
  truth = {"originals": [], "duplicates": [], "photos": [], "options": dataclasses.asdict(options)}
  new_paths = []
  for i, item in enumerate(items):
    rel = f"{_folder(item.split)}/{item.class_code}/{pathlib.PurePosixPath(item.file_name).name}"
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source.raw_bytes(i))
    new_paths.append(rel)
    truth["originals"].append(rel)
  picks = rng.choice(
    len(items), size=options.num_duplicates, replace=options.num_duplicates > len(items)
  )
  for k, i in enumerate(picks):
    item = items[int(i)]
    transform = DUPLICATE_TRANSFORMS[k % len(DUPLICATE_TRANSFORMS)]
    img = Image.fromarray(source.read(int(i)).rgb)
    data, suffix, params = transform_copy(img, transform, rng, options.max_crop)
    split = item.split
    if len(splits) > 1 and rng.random() < options.cross_split_fraction:
      split = str(rng.choice([s for s in splits if s != item.split]))
    rel = f"{_folder(split)}/{item.class_code}/inj_dup_{k:05d}{suffix}"
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_bytes(data)
    truth["duplicates"].append(
      {"file": rel, "source": new_paths[int(i)], "transform": transform, "params": params}
    )
  photos = shipped_photos()
  names = sorted(photos)
  for k in range(options.num_photos):
    name = names[k % len(names)]
    crop, box = random_photo_crop(photos[name], rng)
    rel = f"{_folder(splits[0])}/{PHOTO_CLASSES[k % len(PHOTO_CLASSES)]}/inj_photo_{k:05d}.jpg"
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_bytes(_encode(crop, "JPEG", int(rng.integers(80, 96))))
    truth["photos"].append({"file": rel, "photo": name, "box": box})
  (out / "injected.json").write_text(json.dumps(truth, indent=1))
  return truth
