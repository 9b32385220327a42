"""The ``lavad`` command: ``lavad manage ...`` (administration) and ``lavad --version``.

The server itself runs under twistd (``twistd lavad``); this command is for
the administrator, like ``lava-server manage``.
"""

from __future__ import annotations

import argparse
import sys

from lavad import LAVA_VERSION, __version__, manage


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lavad", description="lavad: a LAVA-compatible lab server.")
    parser.add_argument("--version", action="version",
                        version="lavad %s (LAVA %s)" % (__version__, LAVA_VERSION))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    manage.add_arguments(commands.add_parser(
        "manage", prog=manage.PROG, help="administer the lab (like lava-server manage)",
        description="Administer the lab: users, groups, tokens, device types, devices, "
                    "workers, tags, aliases and permissions."))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return manage.run(args)


if __name__ == "__main__":
    sys.exit(main())
