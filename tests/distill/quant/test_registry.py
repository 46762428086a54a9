import pytest
import torch

from beamsim.distill.quant import (APoTQuantizer, FSQQuantizer, PostTrainingQuantizer, Quantizer, UniformQuantizer,
                                   build_quantizer, quantizer_class, quantizer_names, register_quantizer)


def test_known_names_build_their_classes():
    assert quantizer_names() == ["apot", "fsq", "ptq", "uniform"]
    for name, cls in [("apot", APoTQuantizer), ("uniform", UniformQuantizer), ("fsq", FSQQuantizer),
                      ("ptq", PostTrainingQuantizer)]:
        q = build_quantizer(name, bits=4)
        assert type(q) is cls and q.name == name and q.bits == 4
        assert isinstance(q, torch.nn.Module) and isinstance(q, Quantizer)


def test_unknown_name_lists_known():
    with pytest.raises(ValueError, match="apot, fsq, ptq, uniform"):
        build_quantizer("lsq", bits=4)


def test_unknown_setting_lists_settings():
    with pytest.raises(ValueError, match="no setting.*granularty.*granularity"):
        build_quantizer("apot", granularty="tensor")


def test_invalid_value_names_the_fix():
    with pytest.raises(ValueError, match="choose a bit width from 1 to 8"):
        build_quantizer("uniform", bits=12)


def test_register_duplicate_name_rejected():
    with pytest.raises(ValueError, match="already registered"):
        register_quantizer("apot")(type("Other", (Quantizer,), {}))
    assert quantizer_class("apot") is APoTQuantizer


def test_resolved_config_fixes_signed(generator):
    q = build_quantizer("apot", bits=3).initialize(torch.rand(5, 1, 2, 2, generator=generator) - 0.5)
    assert q.config.signed is None and q.resolved_config().signed is True
    assert q.resolved_config().as_dict() == {"bits": 3, "granularity": "feature", "percentile": 99.5,
                                             "signed": True, "normalize": False, "learn_alpha": True}

