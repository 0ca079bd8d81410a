"""``turbodiffusion <command>``: the subcommand table and the error policy of the CLI.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``. A command's
module is imported only when that command is named, and building its parser needs no torch (about a second
to import): ``turbodiffusion generate --help`` answers in about 0.1 s; torch comes in with ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterable

from ..errors import DeviceMemoryError

# name -> (module, one-line help). Add a command by adding a row.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("turbodiffusion.cli.generate", "generate a video from a prompt (and an image for I2V)"),
    "download": (
        "turbodiffusion.cli.download",
        "download a preset's checkpoint files from the Hugging Face hub",
    ),
    "quantize": ("turbodiffusion.cli.quantize", "convert a Wan checkpoint to the W8A8 INT8 layout"),
    "train": ("turbodiffusion.cli.train", "train a Wan DiT (flow matching, SLA fine-tuning, rCM)"),
    "merge": ("turbodiffusion.cli.merge", "merge SLA and rCM updates into one TurboWan checkpoint"),
}


def _available() -> dict[str, tuple[str, str]]:
    return {name: row for name, row in COMMANDS.items() if importlib.util.find_spec(row[0]) is not None}


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser, with the arguments of ``commands`` (every command when None). The other commands are
    listed by name and help only, so their modules are not imported."""
    parser = argparse.ArgumentParser(
        prog="turbodiffusion", description="TurboDiffusion: fast few-step video generation with Wan models."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in _available().items():
        cmd = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        cmd.set_defaults(_module=module)
        if commands is None or name in commands:
            importlib.import_module(module).add_arguments(cmd)
    return parser


def _named_command(argv: list[str]) -> str | None:
    """The command in ``argv``: its first word that is not an option (the top-level options take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(commands=[name] if (name := _named_command(argv)) else [])
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except (ValueError, ImportError, FileNotFoundError, OSError, DeviceMemoryError) as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
