"""``beamsim scenarios``: the bundled scenarios, one line each."""

from __future__ import annotations

import typer

from beamsim.cli._options import JsonOpt
from beamsim.cli._output import print_json, stdout

#: This file's commands (joined on the root app in :mod:`beamsim.cli.main`).
app = typer.Typer()


@app.command("scenarios")
def scenarios_cmd(json_output: JsonOpt = False) -> None:
    """List the bundled scenarios."""
    from beamsim.scenarios import list_scenarios

    found = list_scenarios()
    if json_output:
        print_json({name: {"backend": s.backend, "description": s.description,
                           "carrier_frequency_hz": s.carrier_frequency, "samples": s.dataset.samples}
                    for name, s in found.items()})
        return
    width = max(len(n) for n in found)
    for name, s in found.items():
        stdout.print(f"{name:<{width}}  {s.backend:<8}  {s.description}")
