"""Class-per-folder image sets (ImageNette and the like), decoded with Pillow.

Expected layout::

    DATA_ROOT/train/<class>/<image>      e.g. imagenette2/train/n01440764/ILSVRC2012_val_00000293.JPEG
    DATA_ROOT/val/<class>/<image>        (``test/`` is accepted in place of ``val/``)

Classes are the sub-folders of ``train/``, sorted by name; every ``val/`` class must be one of
them. Files with an image suffix (``.jpeg .jpg .png .bmp .gif .webp .tif .tiff``, any case)
are read, in sorted order. Every image is converted to RGB, resized so that its short side
is ``image_size`` (bilinear, with Pillow's antialiasing) and centre-cropped to
``image_size`` x ``image_size``.

An image is hostile until checked. Its header is read first; before any pixel is decoded
it is refused, in one line naming the file, when it declares more pixels than Pillow's
decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``, 89,478,485 pixels by default: a
few KB of PNG can declare 50,000 x 50,000) or more bytes than the read bound
(:func:`beamsim.h5safe.max_read_bytes`), or when its mode is not 8 bits per channel
(:data:`IMAGE_MODES`: 16-bit and float images would be clipped to 8 bits). A truncated or
undecodable file is refused too.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from beamsim.distill.data.raw import RawImages, RawSplit
from beamsim.errors import DataFileError
from beamsim.h5safe import MAX_READ_BYTES_ENV, format_bytes, max_read_bytes

__all__ = ["load_imagefolder", "IMAGEFOLDER_LAYOUT", "IMAGE_SUFFIXES", "IMAGE_MODES", "resize_center_crop",
           "open_checked"]

IMAGEFOLDER_LAYOUT = "DIR/train/<class>/*.JPEG and DIR/val/<class>/*.JPEG (one folder per class)"
IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: Pillow modes read (8 bits per channel, converted to RGB); others are refused.
IMAGE_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
_FIX = "remove or replace the file"


def resize_center_crop(image, size: int) -> np.ndarray:
    """A Pillow image resized (short side -> ``size``) and centre-cropped: uint8 [3, size, size]."""
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    scale = size / min(w, h)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    image = image.crop((left, top, left + size, top + size))
    return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_checked(path: Path, size: int) -> np.ndarray:
    """The image at ``path``, checked (see the module docstring), as uint8 [3, size, size].

    Raises:
        DataFileError: a decompression bomb, an image over the read bound, an unsupported
            mode, or a file that cannot be decoded (the message names the file).
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                width, height = image.size
                declared = width * height * max(len(image.getbands()), 1)
                if declared > max_read_bytes():
                    raise DataFileError(f"{path}: declares {width} x {height} pixels ({format_bytes(declared)}), "
                                        f"more than the read bound {format_bytes(max_read_bytes())} "
                                        f"({MAX_READ_BYTES_ENV}); {_FIX}")
                if image.mode not in IMAGE_MODES:
                    raise DataFileError(f"{path}: mode {image.mode} is not 8 bits per channel (reading it as RGB "
                                        f"would clip its values); convert it to 8-bit RGB or {_FIX}")
                return resize_center_crop(image, size)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataFileError(f"{path}: a possible decompression bomb ({' '.join(str(exc).split())}; Pillow's "
                            f"MAX_IMAGE_PIXELS); it was not decoded; {_FIX}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataFileError(f"{path}: cannot be decoded as an image ({' '.join(str(exc).split())[:160]}); "
                            f"{_FIX}") from None
    except MemoryError:
        raise DataFileError(f"{path}: out of memory decoding it; {_FIX}") from None


def _read_split(folder: Path, classes: list[str], size: int) -> tuple[np.ndarray, np.ndarray]:
    pixels, labels = [], []
    for index, name in enumerate(classes):
        sub = folder / name
        if not sub.is_dir():
            continue
        for path in _files(sub):
            pixels.append(open_checked(path, size))
            labels.append(index)
    if not pixels:
        return np.zeros((0, 3, size, size), np.uint8), np.zeros(0, np.int64)
    return np.stack(pixels), np.asarray(labels, dtype=np.int64)


def load_imagefolder(root: str | Path, image_size: int = 128) -> RawImages:
    """A class-per-folder set as [N, 3, S, S] float32 in [0, 1] (S = ``image_size``).

    Raises:
        DataFileError: a missing ``train``/``val`` folder, no class folders or no images
            (the message names the expected layout), an undecodable image, or a ``val``
            class that ``train`` lacks.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"--image-size must be a positive integer, not {image_size!r}")
    root = Path(root).expanduser()
    layout = f"expected {IMAGEFOLDER_LAYOUT}"
    if not root.is_dir():
        raise DataFileError(f"--data-root {root}: no such folder; {layout}")
    train_dir = root / "train"
    test_dir = next((root / n for n in ("val", "test") if (root / n).is_dir()), None)
    if not train_dir.is_dir() or test_dir is None:
        missing = "train" if not train_dir.is_dir() else "val"
        raise DataFileError(f"--data-root {root}: no {missing}/ folder; {layout}")
    classes = sorted(p.name for p in train_dir.iterdir() if p.is_dir())
    if not classes:
        raise DataFileError(f"--data-root {root}: train/ has no class folders; {layout}")
    extra = sorted(p.name for p in test_dir.iterdir() if p.is_dir() and p.name not in classes)
    if extra:
        raise DataFileError(f"--data-root {root}: {test_dir.name}/{extra[0]} is not a class of train/; {layout}")
    train = _read_split(train_dir, classes, image_size)
    test = _read_split(test_dir, classes, image_size)
    for name, part in (("train", train), (test_dir.name, test)):
        if part[1].size == 0:
            raise DataFileError(f"--data-root {root}: {name}/ holds no images "
                                f"({', '.join(IMAGE_SUFFIXES)}); {layout}")
    digest = hashlib.sha256(f"imagefolder;{image_size};{classes};".encode())
    digest.update(train[0].tobytes())
    digest.update(train[1].tobytes())

    def split(pixels: np.ndarray, labels: np.ndarray) -> RawSplit:
        return RawSplit(torch.from_numpy(pixels.astype(np.float32) / 255.0), torch.from_numpy(labels))

    return RawImages(train=split(*train), test=split(*test), class_names=classes, checksum=digest.hexdigest())
