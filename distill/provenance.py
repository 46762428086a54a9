"""Where a distilled set came from and how it was made: one frozen record for every codec.

Every file of the ``beamsim.distilled`` family stores these seven attributes (``-1`` or ``""``
when unknown); :meth:`Provenance.attrs` writes them in one fixed order (the order is part of
the file's bytes) and :meth:`Provenance.from_attrs` reads them back.

>>> p = Provenance(source_sha256="ab", source_path="data/umi.h5", source_samples=24000, encoding="attenuation",
...                objective="tm", spc=50, seed=0)
>>> Provenance.from_attrs(p.attrs()) == p
True
>>> Provenance().attrs()["spc"], Provenance.from_attrs({}).spc
(-1, None)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Provenance"]


@dataclass(frozen=True)
class Provenance:
    """The real data a set was distilled from, and how it was made.

    Attributes:
        source_sha256: checksum of the real training data (a data-set file's ``sha256``, an
            image set's training-data digest); ``""`` when unknown.
        source_path: the real data set (a ``beamsim generate`` file, an image data root or
            ``sklearn:digits``): the default test set of ``beamsim evaluate``.
        source_samples: size of the full real training set (for the compression ratios).
        encoding: input encoding of beam maps (``attenuation`` / ``relative``), ``""`` for images.
        objective, spc, seed: the distillation's objective, samples per class and seed.
    """

    source_sha256: str = ""
    source_path: str = ""
    source_samples: int | None = None
    encoding: str = ""
    objective: str = ""
    spc: int | None = None
    seed: int | None = None

    def replace(self, **changes: Any) -> "Provenance":
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def attrs(self) -> dict[str, Any]:
        """The file attributes, in the order every codec writes them (-1 or "" for unknown)."""
        return {"source_sha256": str(self.source_sha256), "source_path": str(self.source_path),
                "encoding": str(self.encoding),
                "source_samples": -1 if self.source_samples is None else int(self.source_samples),
                "objective": str(self.objective), "spc": -1 if self.spc is None else int(self.spc),
                "seed": -1 if self.seed is None else int(self.seed)}

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> "Provenance":
        """The record stored in a file's attributes (missing keys read as unknown)."""

        def number(key: str) -> int | None:
            value = attrs.get(key, -1)
            return None if value is None or int(value) < 0 else int(value)

        return cls(source_sha256=str(attrs.get("source_sha256", "") or ""),
                   source_path=str(attrs.get("source_path", "") or ""), source_samples=number("source_samples"),
                   encoding=str(attrs.get("encoding", "") or ""), objective=str(attrs.get("objective", "") or ""),
                   spc=number("spc"), seed=number("seed"))
