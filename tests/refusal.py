"""The check every hostile-input test makes of a refusal through the CLI."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from beamsim.cli.main import app


def refused(args: list, folder: Path, *needles: str) -> str:
    """Run the CLI; assert exit 1, one ``beamsim: error:`` line containing every needle, and no
    new file in ``folder``; return the line."""
    before = sorted(folder.rglob("*"))
    result = CliRunner().invoke(app, [str(a) for a in args])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 1 and lines[0].startswith("beamsim: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert sorted(folder.rglob("*")) == before
    return lines[0]


def edited_copy(source: Path, folder: Path, edit) -> Path:
    """A copy of the HDF5 file ``source`` in ``folder/in/``, opened for append and passed to
    ``edit(f)`` (to build a hostile file from a valid one)."""
    import shutil

    import h5py

    bad = folder / "in" / source.name
    bad.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, bad)
    with h5py.File(bad, "a") as f:
        edit(f)
    return bad
