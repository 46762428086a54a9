"""The error table: bad input is one line; a bug keeps its traceback and asks to be reported."""

from __future__ import annotations

import errno

import pytest
import typer
from typer.testing import CliRunner

from beamsim.cli._errors import BUG_LINE, ErrorMappingGroup
from beamsim.errors import DataFileError


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer(cls=ErrorMappingGroup)

    @app.callback()
    def _root() -> None:
        pass

    @app.command("boom")
    def boom() -> None:
        raise exc

    return app


@pytest.mark.parametrize("exc", [ValueError("--bits 9 is out of range: use 1..8"),
                                 DataFileError("x.h5: not a beamsim file"),
                                 OSError(errno.ENOSPC, "No space left on device")])
def test_bad_input_is_one_line_and_exit_code_1(exc):
    result = CliRunner().invoke(_app(exc), ["boom"])
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("beamsim: error: "), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("exc", [KeyError("codes"), TypeError("unsupported operand"), ZeroDivisionError("x"),
                                 AttributeError("'NoneType' object has no attribute 'shape'")])
def test_a_bug_keeps_its_traceback_and_asks_for_a_report(exc):
    result = CliRunner().invoke(_app(exc), ["boom"])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert type(exc).__name__ in result.stderr
    assert result.stderr.rstrip().endswith(BUG_LINE)


def test_debug_shows_the_traceback_of_bad_input(monkeypatch):
    monkeypatch.setenv("BEAMSIM_DEBUG", "1")
    result = CliRunner().invoke(_app(ValueError("bad")), ["boom"])
    assert isinstance(result.exception, ValueError)


def test_ctrl_c_is_one_line_and_exit_code_130():
    result = CliRunner().invoke(_app(KeyboardInterrupt()), ["boom"])
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
