"""Distilled files: one frame, several codecs.

- :mod:`.frame`: what every file shares (format and version, hashing, attributes, provenance,
  the settings attribute, the atomic write, the shared part of ``describe``);
- :mod:`.codec`: the codec registry (``@register_codec``) and :func:`read`, :func:`load`,
  :func:`describe`, which dispatch through it;
- :mod:`.elementwise`: the layout the two element-wise codecs share;
- :mod:`.quantized` and :mod:`.float32`: the codecs ``quantized`` and ``float32``.

The patch codec (``patch``) lives with the patch compressor, in
:mod:`beamsim.distill.compress.file`; :mod:`beamsim.distill.container` imports every built-in
codec and is what ``beamsim.distill.save``/``load``/``read``/``describe`` use.
"""

from beamsim.distill.files.frame import (FORMAT, FORMAT_VERSION, DistilledSet, Frame, arrays_sha256, format_of,
                                         read_attrs, read_frame, settings_of, sha256, write_frame)
from beamsim.distill.files.codec import (Codec, codec_names, codec_of, describe, get_codec, load, read, read_claimed,
                                         register_codec)
from beamsim.distill.files.quantized import QuantizedCodec
from beamsim.distill.files.float32 import Float32Codec

__all__ = [
    "FORMAT", "FORMAT_VERSION", "DistilledSet", "Frame", "sha256", "arrays_sha256", "format_of", "read_attrs",
    "read_frame", "settings_of", "write_frame",
    "Codec", "register_codec", "codec_names", "get_codec", "codec_of", "read_claimed", "read", "load", "describe",
    "QuantizedCodec", "Float32Codec",
]
