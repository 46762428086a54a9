"""Files of every codec read and describe as they did before the codecs were split.

The digests were recorded with the code of 0.1 (one ``container.save`` for quantized and
float32 sets, ``compress/file.py`` for patch-quantized ones), writing the sets below: the
same inputs must give the same file bytes, the same ``describe`` (as JSON) and the same
decoded values. A refactor leaves ``RECORDED`` alone; a format change adds a version.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from beamsim.distill import build_quantizer, describe, read, save
from beamsim.distill.compress import CompressConfig, PatchCompressor
from beamsim.distill.provenance import Provenance

#: file -> (sha256 of its bytes, of describe() as sorted JSON with the file name as path, of
#: the decoded x), first 32 hex digits each, as the 0.1 code wrote and read them.
RECORDED: dict[str, tuple[str, str, str]] = {
    "f32-img.h5": ("9c7f56294acb9f7b24214f49d1945aab", "91f23a3bd4c060eba32d14e1df3056b6", "08c08becf1ef0f85b7554aa799fcedb2"),
    "f32-noconst.h5": ("87a816906ca86b55a9eff922f86827c2", "34b12460fe6d735870104a9df1188d90", "ef3b4b046ba4d8098bc7952579945667"),
    "f32.h5": ("87085edd37843d6329c8cda61edbb2f7", "30ac4a6b7c0f9dc1d18f2c5f33a5bfaf", "ef3b4b046ba4d8098bc7952579945667"),
    "img-apot4.h5": ("939a4b443b806caf122e09b5ca5b3d61", "3d29d2a73107cc6ce06847353495aa25", "314f7091702209032e7006c51657ada9"),
    "p-gaq.h5": ("1fed82076bf77ba234d797aa9efaadd2", "95c8555162655651166c5081aefdd6b1", "b7c0ea56ce75a5895e951b1cc2338f35"),
    "p-packed.h5": ("7a7d08fceb163e13c7f2bc7fa97990a5", "f563df0991dbe2305d9e0df645717607", "28b0ad379e31d163b9f98aebb346e229"),
    "p-rc.h5": ("14a867ecc8b70b743552e27662434db0", "2a3647dc205c6e4e09b8f43747549948", "5f6f60a77893a9c602dff58384e330ed"),
    "q-apot3.h5": ("8abd9a730b5f7d2b09e3a6f8639e530b", "e0c2ac5bc1891f68800c49449847c54c", "e6e2d344b76b0b2966eeba8f2ea491f9"),
    "q-apot6.h5": ("f9ec808bd4ff8e48f94cffded6d35996", "b53ff549a3dc8080bc3600d9f7a60f65", "50bab8119caf6798361c500f461a873b"),
    "q-fsq4.h5": ("9a90cce0f68463c3782f8a314a0143a4", "0d85fb2400dc32b71dba25888ce302af", "0f00b053ba88ffacff864f84528681b8"),
    "q-ptq2.h5": ("8fdc082dbbc69c5c9e8189e19fad4f73", "e573096f83acf9912eb2734696d8647c", "f71eb4a683df103be2c3c6732727aa60"),
    "q-uniform5.h5": ("37a2940c30520c7eaf0b2f8072011cea", "f37e9dd124d78b813cd34db0d02549f1", "83ab3f3abe760cbb836c5044d02c7615"),
}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Every file of ``RECORDED``, written by today's code from the inputs the 0.1 code had."""
    out = tmp_path_factory.mktemp("codecs")
    g = torch.Generator().manual_seed(0)
    idx = torch.arange(8)
    observed = ((idx.view(-1, 1) + idx.view(1, -1)) % 2 == 0).view(1, 8, 8)
    x = torch.where(observed, torch.rand(64, 1, 8, 8, generator=g), torch.ones(()))
    y = torch.arange(16).repeat_interleave(4)
    img = torch.randn(30, 3, 8, 8, generator=g) * 2 + 1
    img_y = torch.arange(10).repeat_interleave(3)
    names = [f"c{i}" for i in range(10)]
    prov = Provenance(source_sha256="ab" * 32, source_path="data/umi.h5", source_samples=1000,
                      encoding="attenuation", objective="dm", spc=4, seed=3)
    for name, bits in [("apot", 6), ("apot", 3), ("uniform", 5), ("fsq", 4), ("ptq", 2)]:
        q = build_quantizer(name, bits=bits).initialize(x)
        save(out / f"q-{name}{bits}.h5", q.to_latent(x), y, q, num_classes=16, provenance=prov,
             settings={"a": 1, "t": {"b": "c"}})
    q = build_quantizer("apot", bits=4, granularity="channel", normalize=True).initialize(img)
    save(out / "img-apot4.h5", img, img_y, q, class_names=names)
    save(out / "f32.h5", x, y, None, provenance=prov)
    save(out / "f32-noconst.h5", x, y, None, constants_once=False, num_classes=20)
    save(out / "f32-img.h5", img, img_y, None, class_names=names, settings={"dataset": {"name": "x"}})
    for tag, cfg in [("rc", CompressConfig(bits=2, refine=False, budget_bytes=2000)),
                     ("packed", CompressConfig(bits=3, refine=False, entropy=False)),
                     ("gaq", CompressConfig(bits=2, refine=True, refine_steps=2, groups=5, budget_bytes=1500))]:
        comp = PatchCompressor(cfg, generator=torch.Generator().manual_seed(1)).fit(x, y)
        comp.save(out / f"p-{tag}.h5", class_names=[f"b{i}" for i in range(16)],
                  provenance=Provenance(source_sha256="cd" * 32, source_path="data/umi.h5", encoding="attenuation",
                                        source_samples=1000, objective="dm", seed=1),
                  settings={"input": "x.h5"})
    return out


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_same_bytes_same_description_same_values(written, name):
    path = written / name
    file_sha, describe_sha, x_sha = RECORDED[name]
    assert _digest(path.read_bytes()) == file_sha
    doc = dict(describe(path), path=name)
    assert _digest(json.dumps(doc, sort_keys=True).encode()) == describe_sha
    assert _digest(read(path).x.numpy().tobytes()) == x_sha
