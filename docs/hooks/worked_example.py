"""MkDocs hook: worked examples that run every time the site is built, so they cannot rot.

In a page, two kinds of fenced block are run, in the order they appear, in one fresh
temporary folder per page:

- a block opened with ```` ```toml file="tiny.toml" ```` (any language) is written to that
  file and shown with the file name as its title;
- a block opened with ```` ```beamsim-run ```` holds ``beamsim`` commands, one per line; each
  runs as ``python -m beamsim.cli.main ARGS`` with the interpreter that builds the site (the
  same code as the ``beamsim`` console script) and a terminal width of :data:`WIDTH` columns.
  The block is shown as a console session: each command after ``$``, then what it printed on
  stdout (progress bars go to stderr and are left out).

An image whose path starts with ``example-output/`` is the file of that name the commands
wrote (``![...](example-output/plots/rsrp_loss_cdf.png)``); it is added to the site. A command
that exits with another code than 0, runs past :data:`TIMEOUT_S` or writes no such image
fails the build, with the end of its stderr.

The commands start in ``on_files`` on a thread of their own, so that they run while the other
pages render (mkdocstrings is the other slow part of a build), and the page waits for them
when it is rendered itself (MkDocs renders pages in the order of their files: the root's,
then each folder's alphabetically, so ``tutorial/`` comes after ``reference/``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

#: Terminal width of the commands' tables (``COLUMNS``).
WIDTH = 100
#: Longest a single command may run [s].
TIMEOUT_S = 300
OUTPUT = "example-output/"
BLOCK = re.compile(r"^```(?:beamsim-run|(?P<lang>[\w-]+) file=\"(?P<file>[^\"]+)\")\n(?P<body>.*?)^```[ \t]*$",
                   re.MULTILINE | re.DOTALL)
IMAGE = re.compile(r"!\[[^\]]*\]\(" + re.escape(OUTPUT) + r"(?P<path>[^)\s]+)\)")


class Example:
    """The runs of one page: started on a thread, awaited by :meth:`blocks`."""

    def __init__(self, markdown: str) -> None:
        self.markdown = markdown
        self.cwd = Path(tempfile.mkdtemp(prefix="beamsim-docs-example-"))
        self._blocks: list[str] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="worked-example", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._blocks = execute(self.markdown, self.cwd)
        except BaseException as exc:  # re-raised on the build's thread by blocks()
            self._error = exc

    def blocks(self) -> list[str]:
        """The Markdown of every block, once every command has finished."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._blocks

    def close(self) -> None:
        self._thread.join()
        shutil.rmtree(self.cwd, ignore_errors=True)


#: page source path -> its running example (from on_files until on_post_build).
_examples: dict[str, Example] = {}


def run(command: str, cwd: Path) -> str:
    """Run one ``beamsim ...`` line in ``cwd``; its stdout, or a PluginError with its stderr."""
    args = shlex.split(command)
    if not args or args[0] != "beamsim":
        raise PluginError(f"worked example: {command!r} is not a beamsim command")
    env = {**os.environ, "COLUMNS": str(WIDTH), "TERMINAL_WIDTH": str(WIDTH)}
    try:
        done = subprocess.run([sys.executable, "-m", "beamsim.cli.main", *args[1:]], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PluginError(f"worked example: {command!r} ran past {TIMEOUT_S} s") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise PluginError(f"worked example: {command!r} exited {done.returncode}:\n{tail}")
    return "\n".join(line.rstrip() for line in done.stdout.splitlines()).strip("\n")


def execute(markdown: str, cwd: Path) -> list[str]:
    """Run every block of one page in ``cwd``; the Markdown that replaces each."""
    out = []
    for block in BLOCK.finditer(markdown):
        body = block["body"]
        if block["file"]:
            path = cwd / block["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
            out.append(f"```{block['lang']} title=\"{block['file']}\"\n{body}```")
            continue
        session = []
        for command in filter(None, (line.strip() for line in body.splitlines())):
            session.append(f"$ {command}")
            printed = run(command, cwd)
            if printed:
                session.append(printed)
        out.append("```console\n" + "\n".join(session) + "\n```")
    return out


def on_files(files, config):
    for page in list(files.documentation_pages()):
        markdown = Path(page.abs_src_path).read_text(encoding="utf-8")
        if not BLOCK.search(markdown):
            continue
        example = _examples[page.src_uri] = Example(markdown)
        for image in IMAGE.finditer(markdown):
            uri = (Path(page.src_uri).parent / OUTPUT / image["path"]).as_posix()
            if files.get_file_from_path(uri) is None:  # copied once written, after every page is rendered
                files.append(File.generated(config, uri, abs_src_path=str(example.cwd / image["path"])))
    return files


def on_page_markdown(markdown, page, config, files):
    example = _examples.get(page.file.src_uri)
    if example is None:
        return markdown
    blocks = iter(example.blocks())
    for image in IMAGE.finditer(markdown):
        if not (example.cwd / image["path"]).is_file():
            raise PluginError(f"worked example {page.file.src_uri}: the commands wrote no {image['path']}")
    return BLOCK.sub(lambda _: next(blocks), markdown)


def on_post_build(config):
    while _examples:
        _examples.popitem()[1].close()


def on_build_error(error):
    on_post_build(None)
