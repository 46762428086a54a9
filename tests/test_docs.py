"""The documentation site builds in strict mode and shows the code it was built from.

One build per module (``mkdocs build --strict`` into a temporary folder; most of its time is
the worked example's three commands, which run while the API pages render); then:

- the build succeeds and logs no warning;
- the CLI page holds the help of every command exactly as ``beamsim ... --help`` prints it at
  :data:`COLUMNS` columns (rendered here, live: a changed option changes both);
- the API pages have an entry for every name of ``beamsim.__all__``,
  ``beamsim.distill.__all__`` and ``beamsim.models.__all__``;
- the worked example's page shows each of its commands with what that command printed, and
  its figure is in the site; a failing example command fails the build.
"""

from __future__ import annotations

import html
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from beamsim.cli.main import app

ROOT = Path(__file__).resolve().parent.parent
#: Terminal width the CLI page is rendered at (docs/hooks/cli_reference.py).
COLUMNS = 100
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
PACKAGES = ("beamsim", "beamsim.distill", "beamsim.models")
EXAMPLE = ROOT / "docs" / "tutorial" / "worked-example.md"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, str]:
    """The site built once: (its folder, the build's log)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)
    log = done.stdout + done.stderr
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{log[-4000:]}"
    return out, log


class _Blocks(HTMLParser):
    """The text of every ``<pre>`` block, and of every API entry's heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pre: list[str] = []
        self.headings: list[str] = []
        self._pre_depth = 0
        self._heading_depth = 0
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "pre":
            self._pre_depth += 1
            if self._pre_depth == 1:
                self._text = []
        elif re.fullmatch(r"h[1-6]", tag) and "doc-heading" in classes:
            self._heading_depth = 1
            self._text = []

    def handle_endtag(self, tag):
        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
            if not self._pre_depth:
                self.pre.append("".join(self._text))
        elif re.fullmatch(r"h[1-6]", tag) and self._heading_depth:
            self._heading_depth = 0
            self.headings.append(" ".join("".join(self._text).replace("¶", "").split()))

    def handle_data(self, data):
        if self._pre_depth or self._heading_depth:
            self._text.append(data)


def _parse(page: Path) -> _Blocks:
    parser = _Blocks()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _normal(text: str) -> str:
    """Help text as the page holds it: no colour, no trailing blanks, no blank first/last line."""
    return "\n".join(line.rstrip() for line in ANSI.sub("", text).splitlines()).strip("\n")


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every visible command of the click tree, depth first (typer's own click: duck-typed)."""
    found = [path]
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command, info_name="beamsim")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if not sub.hidden:
                found += _command_paths(sub, (*path, name))
    return found


def _live_help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="beamsim", env={"COLUMNS": str(COLUMNS)})
    assert result.exit_code == 0, result.output
    return _normal(result.output)


def test_the_site_builds_strict_without_a_warning(site):
    out, log = site
    assert (out / "index.html").is_file()
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not warnings, "\n".join(warnings)


def test_the_cli_page_is_the_help_of_every_command(site):
    out, _ = site
    blocks = [_normal(text) for text in _parse(out / "reference" / "cli" / "index.html").pre]
    paths = _command_paths(typer.main.get_command(app))
    assert ("distill",) in paths and ("study", "baselines") in paths and ("bench", "quant") in paths
    missing = [" ".join(("beamsim", *path)) for path in paths if _live_help(path) not in blocks]
    assert not missing, f"the CLI page does not show the current --help of: {missing}"
    shown = [block for block in blocks if block.lstrip().startswith("Usage: beamsim")]
    assert len(shown) == len(paths), "the CLI page shows the help of commands that do not exist"


@pytest.mark.parametrize("args", [(), ("study", "rate-distortion")])
def test_the_console_script_prints_the_help_the_page_is_made_of(args):
    script = Path(sys.executable).with_name("beamsim")  # the console script of this environment
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "beamsim.cli.main"]
    env = {k: v for k, v in os.environ.items() if k not in {"TERMINAL_WIDTH", "FORCE_COLOR", "PY_COLORS"}}
    done = subprocess.run([*command, *args, "--help"], capture_output=True, text=True,
                          env={**env, "COLUMNS": str(COLUMNS)}, timeout=120, check=True)
    assert _normal(done.stdout) == _live_help(args)


@pytest.mark.parametrize("package", PACKAGES)
def test_the_api_pages_list_every_public_name(site, package):
    out, _ = site
    page = out / "reference" / "api" / package.rpartition(".")[2] / "index.html"
    headings = {heading.split()[0] for heading in _parse(page).headings if heading}  # labels follow the name
    names = importlib.import_module(package).__all__
    missing = [name for name in names if f"{package}.{name}" not in headings]
    assert not missing, f"{page} has no entry for {missing}"


def test_the_worked_example_shows_what_its_commands_printed(site):
    out, _ = site
    source = EXAMPLE.read_text()
    commands = [line.strip() for block in re.findall(r"^```beamsim-run\n(.*?)^```", source, re.M | re.S)
                for line in block.splitlines() if line.strip()]
    assert [c.split()[1] for c in commands] == ["generate", "distill", "evaluate"]
    page = out / "tutorial" / "worked-example" / "index.html"
    sessions = "\n".join(text for text in _parse(page).pre if text.startswith("$ beamsim"))
    for command in commands:
        assert f"$ {command}\n" in sessions, f"{command!r} is not on the page"
    # What each printed: the tables of generate and distill, the KPI table of evaluate.
    printed = {c.split()[1]: sessions.split(f"$ {c}\n", 1)[1].split("\n$ ", 1)[0] for c in commands}
    assert re.search(r"samples\s+│\s+128\b", printed["generate"])
    assert re.search(r"path\s+│\s+distilled/umi-tiny\.h5", printed["distill"])
    assert re.search(r"bits\s+│\s+6\b", printed["distill"])
    assert re.search(r"top-1 \(%\)\s+│\s+\d+\.\d\d ± \d+\.\d\d", printed["evaluate"])
    assert "beamcnn trained on distilled/umi-tiny.h5" in printed["evaluate"]
    figure = out / "tutorial" / "example-output" / "plots" / "rsrp_loss_cdf.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'src="../example-output/plots/rsrp_loss_cdf.png"' in html.unescape(page.read_text())


def test_a_failing_example_command_fails_the_build(tmp_path):
    spec = importlib.util.spec_from_file_location("worked_example", ROOT / "docs" / "hooks" / "worked_example.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match=r"'beamsim info missing\.h5' exited 1:\n.*missing\.h5"):
        hook.execute("```beamsim-run\nbeamsim info missing.h5\n```\n", tmp_path)
    with pytest.raises(PluginError, match="is not a beamsim command"):
        hook.execute("```beamsim-run\nrm -rf data\n```\n", tmp_path)
