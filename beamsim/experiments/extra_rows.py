"""Real beam rows for the compressor's budget, from the data set a distilled file was made from.

:func:`beamsim.distill.compress.compress_file` takes extra real rows as arrays from its
caller and reads no data set itself. For beam data this module finds them: the distilled
file records its source (``source_path``) and input ``encoding``; the rows are the training
split of that ``beamsim generate`` file (``BeamDataset(source, "train")``, stored masks),
encoded the same way and with the mask channel when the distilled maps have two channels.
``beamsim compress`` and the studies' patch-compressed sources call :func:`extra_rows`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from beamsim.dataset import FORMAT as DATASET_FORMAT
from beamsim.dataset import BeamDataset, read_attrs
from beamsim.distill.files import read_attrs as read_distilled_attrs
from beamsim.distill.provenance import Provenance
from beamsim.errors import DataFileError
from beamsim.experiments.loaders import UNRECORDED_ENCODING

__all__ = ["extra_rows"]


def extra_rows(distilled: str | Path, source: str | Path | None = None, *,
               warn: Callable[[str], None] | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The training rows of the beam data set ``distilled`` was made from.

    Args:
        distilled: a distilled file (any codec).
        source: the beam data set to take the rows from (default: the file's ``source_path``).
        warn: called with one line when no source is given and the recorded one is missing
            (unrecorded, or not found); silent when None.

    Returns:
        (x [M, C, 8, 8] float32 inputs under the stored masks, in the file's ``encoding``
        (``UNRECORDED_ENCODING``, relative, when unrecorded); y [M] int64), or None when there is no source.

    Raises:
        DataFileError: ``distilled`` is not a distilled file; ``source`` is missing or not a
            beam data set (``beamsim generate`` writes one; ``--no-extra`` does without).
    """
    attrs = read_distilled_attrs(distilled)
    provenance = Provenance.from_attrs(attrs)
    say = warn or (lambda line: None)
    if source is None:
        if not provenance.source_path:
            say("no source data set recorded in the file: only its own rows can be kept")
            return None
        if not Path(provenance.source_path).is_file():
            say(f"source data set {provenance.source_path} not found: only the file's own rows can be kept "
                "(give --source)")
            return None
        source = provenance.source_path
    fmt = str(read_attrs(source).get("format", ""))
    if fmt != DATASET_FORMAT:
        raise DataFileError(f"{source}: extra samples come from a beam data set (format {DATASET_FORMAT!r}), "
                            f"found {fmt!r}; use --no-extra")
    shape = [int(s) for s in attrs.get("input_shape", [])]
    channels = shape[0] if len(shape) == 3 else 0
    data = BeamDataset(source, "train", encoding=provenance.encoding or UNRECORDED_ENCODING, mask_channel=channels == 2)
    return data.inputs.float(), data.labels.long()
