"""The ``chainrule`` command installed with the package: ``chainrule demo [options]``.

One subcommand for now, ``demo`` (the same as ``make demo`` and ``python -m
nn.demo``); ``chainrule --help`` lists the subcommands, ``chainrule demo --help``
the demo's options.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run ``chainrule <subcommand> ...``; return the exit code."""
    from . import __version__

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="chainrule: learn backpropagation by doing it.",
        epilog="Notebooks: run `make notebook` in a clone of the project.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "demo", add_help=False,
        help="train an MLP on two moons and write pictures, a graph and the chain rule "
             "step by step (chainrule demo --help for its options)",
    )
    if not argv:
        parser.print_help()
        return 0
    # Everything after the subcommand belongs to it (its own parser prints its --help).
    parsed, _ = parser.parse_known_args(argv[:1])
    if parsed.command == "demo":
        from .demo import main as demo

        return demo(argv[1:])
    parser.error(f"unknown command {argv[0]!r}")  # pragma: no cover - argparse exits first
    return 2


if __name__ == "__main__":
    sys.exit(main())
