"""Image data sets for QuADD: loaders, the fitted transform (standardisation, ZCA) and DSA.

No torchvision and no network: scikit-learn's bundled ``digits``, CIFAR-10/100 from their
"python version" folders (read with a restricted unpickler), and class-per-folder sets such
as ImageNette (decoded with Pillow).

- :class:`ImageSpec`, :func:`load_image_data`: a data set, transformed (:mod:`.spec`);
- :func:`load_digits`, :func:`load_cifar`, :func:`load_imagefolder`: the raw loaders;
- :class:`ZCA`, :func:`fit_zca`: ZCA whitening (:mod:`.zca`);
- :class:`DSA`: differentiable siamese augmentation (:mod:`.augment`).
"""

from __future__ import annotations

from beamsim._lazy import lazy_attributes

_LAZY = {
    "ImageSpec": "beamsim.distill.data.spec",
    "ImageData": "beamsim.distill.data.spec",
    "ImageTransform": "beamsim.distill.data.spec",
    "LabelledImages": "beamsim.distill.data.spec",
    "load_image_data": "beamsim.distill.data.spec",
    "load_raw": "beamsim.distill.data.spec",
    "spec_from_settings": "beamsim.distill.data.spec",
    "verify_settings": "beamsim.distill.data.spec",
    "default_model": "beamsim.distill.data.spec",
    "DATASETS": "beamsim.distill.data.spec",
    "DSA_STRATEGY": "beamsim.distill.data.spec",
    "RawImages": "beamsim.distill.data.raw",
    "RawSplit": "beamsim.distill.data.raw",
    "load_digits": "beamsim.distill.data.digits",
    "load_cifar": "beamsim.distill.data.cifar",
    "RestrictedUnpickler": "beamsim.distill.data.cifar",
    "safe_load_pickle": "beamsim.distill.data.cifar",
    "load_imagefolder": "beamsim.distill.data.imagefolder",
    "ZCA": "beamsim.distill.data.zca",
    "fit_zca": "beamsim.distill.data.zca",
    "DSA": "beamsim.distill.data.augment",
    "DSAConfig": "beamsim.distill.data.augment",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes(globals(), _LAZY)
