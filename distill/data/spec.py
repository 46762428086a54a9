"""Which image data set, how it is transformed, and how a distilled file records both.

An :class:`ImageSpec` names a data set (``digits``, ``cifar10``, ``cifar100``,
``imagefolder``), where it lives and how it is preprocessed. :func:`load_image_data` reads
it and fits the transform on the training images:

1. pixels in [0, 1] (the loaders);
2. per-channel standardisation with the training images' mean and std (as the
   distillation literature's ``Normalize``, fitted instead of hard-coded);
3. optionally ZCA whitening (:mod:`beamsim.distill.data.zca`, eps 0.1), fitted on the
   standardised training images.

The same transform is applied to the test images. :meth:`ImageData.settings` is what a
distilled file stores (``settings.dataset`` of :func:`beamsim.distill.container.save`):
data set name, data root, image size, the ZCA flag and eps, the ZCA matrix's sha256 and
the training data's sha256. :func:`spec_from_settings` and :func:`verify_settings` let
``beamsim evaluate`` rebuild the same transform from the training images and check it.

ZCA defaults: on for CIFAR and image folders (as MTT/DATM on CIFAR), off for digits. On
digits (8 x 8 grey-scale) it was measured: see ``distill/defaults/image.toml``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from beamsim.distill.data.raw import RawImages
from beamsim.distill.data.zca import DEFAULT_EPS, ZCA, fit_zca
from beamsim.errors import DataFileError

__all__ = ["ImageSpec", "ImageTransform", "ImageData", "LabelledImages", "load_image_data", "load_raw",
           "spec_from_settings", "verify_settings", "DATASETS", "DatasetName", "default_model", "DSA_STRATEGY"]

_log = logging.getLogger(__name__)

DatasetName = Literal["digits", "cifar10", "cifar100", "imagefolder"]
DATASETS: tuple[str, ...] = ("digits", "cifar10", "cifar100", "imagefolder")
_FIXED_SIZE = {"digits": 8, "cifar10": 32, "cifar100": 32}
_DEFAULT_ZCA = {"digits": False, "cifar10": True, "cifar100": True, "imagefolder": True}
#: DSA op groups per data set: digits are not flipped (a mirrored digit is another glyph).
DSA_STRATEGY = {"digits": "color_crop_cutout_scale_rotate", "cifar10": "color_crop_cutout_flip_scale_rotate",
                "cifar100": "color_crop_cutout_flip_scale_rotate", "imagefolder": "color_crop_cutout_flip_scale_rotate"}


def default_model(image_size: int) -> str:
    """ConvNetD3 up to 64 x 64 (digits, CIFAR), ConvNetD5 above (ImageNette at 128).

    >>> default_model(32), default_model(128)
    ('convnet3', 'convnet5')
    """
    return "convnet3" if image_size <= 64 else "convnet5"


@dataclass(frozen=True)
class ImageSpec:
    """An image data set and its preprocessing.

    Attributes:
        dataset: ``digits`` | ``cifar10`` | ``cifar100`` | ``imagefolder``.
        data_root: folder of the data (CIFAR and image folders; empty for digits). Stored
            as an absolute path.
        image_size: side of the square images; fixed for digits (8) and CIFAR (32),
            default 128 for image folders.
        zca: ZCA whitening; None picks the data set's default (on for CIFAR and image
            folders, off for digits).
        zca_eps: eigenvalue regularisation of ZCA (> 0).
    """

    dataset: DatasetName
    data_root: str = ""
    image_size: int | None = None
    zca: bool | None = None
    zca_eps: float = DEFAULT_EPS

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown image data set {self.dataset!r}: use one of {', '.join(DATASETS)}")
        if self.dataset == "digits":
            if self.data_root:
                raise ValueError("--dataset digits is bundled with scikit-learn: leave --data-root out")
        else:
            if not self.data_root:
                from beamsim.distill.data.cifar import CIFAR_LAYOUT
                from beamsim.distill.data.imagefolder import IMAGEFOLDER_LAYOUT

                layout = CIFAR_LAYOUT.get(self.dataset, IMAGEFOLDER_LAYOUT)
                raise ValueError(f"--dataset {self.dataset} needs --data-root DIR with {layout}")
            object.__setattr__(self, "data_root", str(Path(self.data_root).expanduser().absolute()))
        fixed = _FIXED_SIZE.get(self.dataset)
        size = self.image_size
        if size is None:
            size = fixed if fixed is not None else 128
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"--image-size must be a positive integer, not {size!r}")
        if fixed is not None and size != fixed:
            raise ValueError(f"{self.dataset} images are {fixed} x {fixed}; --image-size applies to imagefolder only")
        object.__setattr__(self, "image_size", size)
        if self.zca is None:
            object.__setattr__(self, "zca", _DEFAULT_ZCA[self.dataset])
        if not isinstance(self.zca, bool):
            raise ValueError(f"zca must be true or false, not {self.zca!r}")
        if not (isinstance(self.zca_eps, (int, float)) and self.zca_eps > 0):
            raise ValueError(f"zca_eps must be > 0, not {self.zca_eps!r}")
        object.__setattr__(self, "zca_eps", float(self.zca_eps))

    @property
    def source(self) -> str:
        """Where the data comes from, for reports: the data root, or ``sklearn:digits``."""
        return self.data_root or "sklearn:digits"


@dataclass(frozen=True, eq=False)
class ImageTransform:
    """Standardisation (and ZCA) fitted on training images.

    Attributes:
        mean, std: [C] float32 per-channel statistics of the training images in [0, 1].
        zca: the fitted whitening, or None.
    """

    mean: torch.Tensor
    std: torch.Tensor
    zca: ZCA | None = None

    @classmethod
    def fit(cls, x: torch.Tensor, zca: bool, eps: float = DEFAULT_EPS, *,
            device: str | torch.device | None = None) -> "ImageTransform":
        """Fit on training images ``x`` [N, C, H, W] float32 in [0, 1]."""
        flat = x.transpose(0, 1).reshape(x.shape[1], -1).double()
        mean = flat.mean(1)
        std = flat.std(1, unbiased=False)
        std = torch.where(std > 0, std, torch.ones_like(std))
        transform = cls(mean=mean.float(), std=std.float())
        if zca:
            transform = cls(mean=mean.float(), std=std.float(),
                            zca=fit_zca(transform.apply(x), eps, device=device))
        return transform

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] float32 in [0, 1] -> standardised (and whitened) [N, C, H, W] float32."""
        view = (1, -1, 1, 1)
        out = (x.float() - self.mean.to(x.device).view(view)) / self.std.to(x.device).view(view)
        return self.zca.apply(out) if self.zca is not None else out


@dataclass
class LabelledImages:
    """Model inputs of one split (what ``QuADD.fit`` and evaluation take).

    Attributes:
        inputs: [N, C, H, W] float32 transformed images; labels: [N] int64.
        num_classes: classes of the data set (some may be absent from a split).
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    num_classes: int

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class ImageData:
    """A loaded image data set: transformed splits, class names, the transform and its record.

    Attributes:
        spec: what was loaded; train, test: the transformed splits; class_names: [C] str;
        transform: the fitted :class:`ImageTransform`; checksum: sha256 of the stored
        training data (see :func:`beamsim.distill.data.raw.checksum`).
    """

    spec: ImageSpec
    train: LabelledImages
    test: LabelledImages
    class_names: list[str]
    transform: ImageTransform
    checksum: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def settings(self) -> dict[str, Any]:
        """The record a distilled file keeps (``settings.dataset``): plain TOML values."""
        out: dict[str, Any] = {
            "name": self.spec.dataset, "data_root": self.spec.data_root, "image_size": self.spec.image_size,
            "channels": int(self.train.inputs.shape[1]), "num_classes": self.num_classes,
            "zca": self.spec.zca, "zca_eps": self.spec.zca_eps, "train_sha256": self.checksum,
            "normalize_mean": [float(v) for v in self.transform.mean],
            "normalize_std": [float(v) for v in self.transform.std],
        }
        if self.transform.zca is not None:
            out["zca_sha256"] = self.transform.zca.sha256
            out["zca_invariants"] = self.transform.zca.invariants
        return out


def load_raw(spec: ImageSpec) -> RawImages:
    """Read the data set of ``spec`` from disk (no transform)."""
    if spec.dataset == "digits":
        from beamsim.distill.data.digits import load_digits

        return load_digits()
    if spec.dataset in ("cifar10", "cifar100"):
        from beamsim.distill.data.cifar import load_cifar

        return load_cifar(spec.data_root, spec.dataset)  # type: ignore[arg-type]
    from beamsim.distill.data.imagefolder import load_imagefolder

    return load_imagefolder(spec.data_root, spec.image_size)  # type: ignore[arg-type]


def load_image_data(spec: ImageSpec, *, device: str | torch.device | None = None) -> ImageData:
    """Read ``spec``'s data set, fit the transform on its training split and apply it to both.

    Args:
        spec: the data set and preprocessing.
        device: where the ZCA fit runs (``None``: the config's device); results are on the CPU.

    Returns:
        an :class:`ImageData`; the same files give the same tensors (the transform is fitted
        deterministically).

    Raises:
        DataFileError: missing or malformed data (see the loaders); ValueError: bad spec.
    """
    raw = load_raw(spec)
    transform = ImageTransform.fit(raw.train.x, spec.zca, spec.zca_eps, device=device)
    num_classes = raw.num_classes
    train = LabelledImages(transform.apply(raw.train.x).cpu(), raw.train.y, num_classes)
    test = LabelledImages(transform.apply(raw.test.x).cpu(), raw.test.y, num_classes)
    return ImageData(spec=spec, train=train, test=test, class_names=list(raw.class_names), transform=transform,
                     checksum=raw.checksum)


def spec_from_settings(record: dict[str, Any]) -> ImageSpec:
    """The :class:`ImageSpec` a distilled file's ``settings.dataset`` record describes.

    Raises:
        DataFileError: the record is not an image data-set record.
    """
    if not isinstance(record, dict) or record.get("name") not in DATASETS:
        raise DataFileError(f"the distilled file's dataset record names no image data set "
                            f"({record.get('name') if isinstance(record, dict) else record!r})")
    try:
        return ImageSpec(dataset=record["name"], data_root=str(record.get("data_root") or ""),
                         image_size=int(record["image_size"]) if "image_size" in record else None,
                         zca=bool(record.get("zca", False)), zca_eps=float(record.get("zca_eps", DEFAULT_EPS)))
    except ValueError as exc:
        raise DataFileError(f"the distilled file's dataset record is invalid: {exc}") from None


def verify_settings(data: ImageData, record: dict[str, Any], where: str = "the distilled file") -> None:
    """Check that ``data`` (reloaded and refitted) is what ``record`` was written from.

    The training data's sha256 must match exactly; the ZCA transform must have the recorded
    sha256, or (refitted on other hardware, where eigen-solvers differ in the last bits) the
    same invariants within 1e-4 (then a warning is logged).

    Raises:
        DataFileError: other training data, or another ZCA transform.
    """
    recorded = str(record.get("train_sha256") or "")
    if recorded and recorded != data.checksum:
        raise DataFileError(f"the {data.spec.dataset} training data at {data.spec.source} is not the data "
                            f"{where} was distilled from (sha256 differs)")
    if data.transform.zca is None:
        return
    sha = str(record.get("zca_sha256") or "")
    if not sha:
        raise DataFileError(f"{where} records ZCA whitening but no zca_sha256")
    if sha == data.transform.zca.sha256:
        return
    if data.transform.zca.matches(sha, list(record.get("zca_invariants") or [])):
        _log.warning("the ZCA transform refitted on %s differs from the recorded one in its last bits "
                     "(other device or BLAS); its invariants agree, continuing", data.spec.source)
        return
    raise DataFileError(f"the ZCA transform refitted on {data.spec.source} differs from the one {where} recorded "
                        f"(sha256 {sha[:12]}..., refitted {data.transform.zca.sha256[:12]}...)")
