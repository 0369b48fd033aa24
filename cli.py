"""Command-line entry point: ``python cli.py <command> --help``. The commands live in the cli/ package, one
module per command group (cli/__init__.py assembles the parser)."""

import sys

from cli import main

if __name__ == "__main__":
    sys.exit(main())
