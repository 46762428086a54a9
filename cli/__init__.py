"""The ``beamsim`` command line: one file per command group, joined in :mod:`beamsim.cli.main`."""
