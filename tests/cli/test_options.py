"""The fixed choices of the CLI are the registries' names (spelled out so --help stays light)."""

from __future__ import annotations

from typer.testing import CliRunner

from beamsim.cli._options import (DatasetName, Encoding, GridQuantizer, InitName, Mask, Objective, QuantizerName, Split,
                                  StudyObjective)


def _values(enum) -> set[str]:
    return {member.value for member in enum}


def test_objectives_quantizers_and_inits_are_the_registered_ones():
    from beamsim.distill.init import init_methods
    from beamsim.distill.objectives import objective_names
    from beamsim.distill.quant import quantizer_names

    assert _values(Objective) == set(objective_names())
    assert _values(StudyObjective) == set(objective_names()) - {"none"}
    assert _values(QuantizerName) == set(quantizer_names()) | {"none"}
    assert _values(GridQuantizer) == set(quantizer_names())
    assert _values(InitName) == set(init_methods())


def test_beam_choices_are_the_data_set_and_scenario_ones():
    import typing

    from beamsim.dataset import Encoding as DatasetEncoding
    from beamsim.scenarios import MaskSettings

    assert _values(Encoding) == set(typing.get_args(DatasetEncoding))
    assert {"fixed", "random"} == _values(Mask) and {"random", "blocks"} == _values(Split)
    assert MaskSettings().kind in _values(Mask)


def test_the_default_encoding_the_help_names_is_the_data_set_s():
    from beamsim.cli._options import DEFAULT_ENCODING_NAME
    from beamsim.dataset import DEFAULT_ENCODING

    assert DEFAULT_ENCODING_NAME == DEFAULT_ENCODING


def test_image_sets_are_the_loadable_ones():
    from beamsim.distill.data.spec import DSA_STRATEGY

    assert _values(DatasetName) - {"beam"} == set(DSA_STRATEGY)


def test_help_lists_the_choices():
    from beamsim.cli.main import app

    result = CliRunner().invoke(app, ["generate", "--help"])
    assert "fixed|random" in result.output and "random|blocks" in result.output


def test_a_choice_outside_the_enum_is_one_line_naming_the_option(tmp_path):
    from beamsim.cli.main import app

    result = CliRunner().invoke(app, ["evaluate", "--train", str(tmp_path / "x.h5"), "--precision", "fp16"])
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "'--precision'" in lines[0] and "'bf16', 'fp32'" in lines[0], result.stderr
