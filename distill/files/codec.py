"""Codecs of the distilled-file family, registered by name, and the readers that dispatch to them.

A codec is one storage layout inside the frame (:mod:`.frame`): ``@register_codec("name")``
on a :class:`Codec` subclass makes it known. Each codec writes its own files
(``write(path, ...)``, its arguments being what its layout needs), recognises them from their
attributes (:meth:`Codec.claims`), and reads and describes them. :func:`read`, :func:`load`
and :func:`describe` read the frame once, ask the registry which codec claims the file and
hand the frame to it.

The built-in codecs and how a file names them (the marks older files already carry):

========== =================================================== ==============================
codec      module                                              claims a file whose
========== =================================================== ==============================
quantized  :mod:`beamsim.distill.files.quantized`              ``quantizer`` is a quantizer
float32    :mod:`beamsim.distill.files.float32`                ``quantizer`` is ``"none"``
patch      :mod:`beamsim.distill.compress.file`                ``codec`` is ``paq`` or ``gaq``
fred       :mod:`beamsim.distill.param.fred_file`              ``codec`` is ``fred``
palette    :mod:`beamsim.distill.param.palette_file`           ``codec`` is ``palette``
========== =================================================== ==============================

A codec registers when its module is imported; :mod:`beamsim.distill.container` (behind
``beamsim.distill.load``) imports all five.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch

from beamsim.distill.files.frame import DistilledSet, Frame, family_schema, read_attrs, read_frame
from beamsim.errors import DataFileError
from beamsim.h5safe import Array, Declared

__all__ = ["Codec", "register_codec", "codec_names", "get_codec", "codec_of", "read_claimed", "read", "load",
           "describe"]


class Codec(ABC):
    """One storage layout of the ``beamsim.distilled`` family.

    Subclasses are stateless; the registry holds one instance of each. ``name`` is set by
    :func:`register_codec`.
    """

    name: str = ""

    @abstractmethod
    def claims(self, attrs: Mapping[str, Any]) -> bool:
        """Whether a file with these (format-checked) attributes is this codec's. The claims of
        the registered codecs exclude each other."""

    def schema(self, attrs: Mapping[str, Any], entries: Mapping[str, Declared]) -> Mapping[str, str | Array]:
        """What a file of this codec holds: dataset -> :class:`~beamsim.h5safe.Array` (dtype kinds,
        the shape the header attributes imply, allowed values), from the (format-checked)
        attributes and the datasets as declared; :func:`~.frame.read_frame` holds the file to
        it before reading any data. A dataset another codec holds but this one does not is
        foreign. The default is the family's union, :data:`~.frame.SCHEMA`.
        """
        return family_schema(attrs, entries)

    def frame(self, path: str | Path) -> Frame:
        """A file of this codec, read against :meth:`schema` (:func:`~.frame.read_frame`)."""
        return read_frame(path, self.schema, what=f"beamsim distilled set of the {self.name} codec")

    @abstractmethod
    def write(self, path: str | Path, *args: Any, **kwargs: Any) -> dict:
        """Write a set atomically (the arguments are the codec's); returns :meth:`describe` of
        the written file."""

    @abstractmethod
    def read(self, frame: Frame, device: str | torch.device | None = None) -> DistilledSet:
        """Validate and decode a file of this codec (tensors on ``device``).

        Raises:
            DataFileError: what does not add up (each message says which).
        """

    @abstractmethod
    def describe(self, frame: Frame) -> dict:
        """Validate a file of this codec (arrays checked, not decoded) and summarise it.

        Raises:
            DataFileError: as :meth:`read`.
        """


_REGISTRY: dict[str, Codec] = {}
C = TypeVar("C", bound=type)


def register_codec(name: str) -> Callable[[C], C]:
    """Class decorator: make a :class:`Codec` subclass a codec of the family named ``name``.

    Raises:
        ValueError: ``name`` is registered by another class.
        TypeError: the class is not a :class:`Codec`.
    """

    def decorate(cls: C) -> C:
        if not (isinstance(cls, type) and issubclass(cls, Codec)):
            raise TypeError(f"@register_codec({name!r}) decorates Codec subclasses, not {cls!r}")
        known = _REGISTRY.get(name)
        if known is not None and _full_name(type(known)) != _full_name(cls):  # a reloaded module may re-register
            raise ValueError(f"codec name {name!r} is already registered by {type(known).__name__}")
        cls.name = name
        _REGISTRY[name] = cls()
        return cls

    return decorate


def _full_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def codec_names() -> list[str]:
    """The registered names, in registration order."""
    return list(_REGISTRY)


def get_codec(name: str) -> Codec:
    """The codec registered as ``name``.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown codec {name!r}: known codecs are {', '.join(codec_names())}") from None


def codec_of(frame: Frame) -> Codec:
    """The codec that claims a file.

    Raises:
        DataFileError: no registered codec claims it.
        RuntimeError: more than one does (a bug in a codec's :meth:`Codec.claims`).
    """
    return _claiming(frame.attrs, frame.where)


def _claiming(attrs: Mapping[str, Any], where: str) -> Codec:
    found = [codec for codec in _REGISTRY.values() if codec.claims(attrs)]
    if len(found) > 1:
        raise RuntimeError(f"{where}: codecs {', '.join(c.name for c in found)} all claim the file; "
                           "a codec's claims must exclude the others'")
    if not found:
        mark = f"codec {attrs['codec']!r}" if "codec" in attrs else f"quantizer {attrs.get('quantizer')!r}"
        raise DataFileError(f"{where}: unknown codec ({mark}): no registered codec reads it (known: "
                            f"{', '.join(codec_names())}); a newer beamsim may have written it")
    return found[0]


def read_claimed(path: str | Path) -> tuple[Codec, Frame]:
    """The codec that claims a file and the file's frame, read against that codec's schema
    (:meth:`Codec.schema`; no data is read before the file passes it).

    Raises:
        DataFileError: see :func:`~.frame.read_frame`; no registered codec claims the file.
    """
    codec = _claiming(read_attrs(path), str(path))
    return codec, codec.frame(path)


def read(path: str | Path, device: str | torch.device | None = None) -> DistilledSet:
    """Read, validate and decode a distilled file, whatever its codec.

    Args:
        path: a distilled file.
        device: where the returned tensors go (decoding runs on the CPU; values do not change).

    Raises:
        DataFileError: missing, truncated or foreign file; wrong format or version; what the
            codec finds wrong (each message says which).
    """
    codec, frame = read_claimed(path)
    return codec.read(frame, device)


def load(path: str | Path, device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoded set of a distilled file.

    Returns:
        (x [N, *shape] float32, y [N] int64), rows grouped by class.

    Raises:
        DataFileError: see :func:`read`.
    """
    data = read(path, device=device)
    return data.x, data.y


def describe(path: str | Path) -> dict:
    """A summary of a distilled file for reports and ``beamsim info`` (arrays are validated,
    not decoded).

    Every codec reports: path, format, format_version, quantizer, bits, signed, levels,
    input_shape, num_samples, num_classes, samples_per_class, class_names,
    elements_per_sample, constant_elements, payload_bits (papers' N d b),
    payload_bits_stored, overhead_bits, total_bits_stored, file_bytes, source_samples,
    full_set_bits, compression_ratio (full set at 32 bits / stored bits),
    compression_ratio_papers (full set / N d b), compression_ratio_file (full set / file
    bytes), objective, spc, seed, source_sha256, config, settings; ratios are None when the
    full-set size was not recorded. A codec adds its own keys (the patch codec: codec,
    entropy, patch, groups, index_bits, budget_bytes, the byte breakdown ``bytes``, ...).

    Raises:
        DataFileError: see :func:`read`.
    """
    codec, frame = read_claimed(path)
    return codec.describe(frame)
