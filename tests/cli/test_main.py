"""The command table: a command's module (and torch) is imported only when that command is named, and the
help of generate and download needs no torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from turbodiffusion.cli.__main__ import COMMANDS, build_parser


def _modules_after(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter has imported once ``main(argv)`` returns (or exits)."""
    code = (
        "import sys\n"
        "from turbodiffusion.cli.__main__ import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n'.join(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_top_level_help_imports_no_command_and_no_torch():
    loaded = _modules_after(["--help"])
    assert "torch" not in loaded
    assert not {module for module, _ in COMMANDS.values()} & loaded


@pytest.mark.parametrize("name", ["generate", "download"])
def test_help_of_the_commands_users_start_with_imports_no_torch(name):
    # Their options (presets, attention backends, W8A8 and offload modes) come from modules without torch,
    # reached through packages that import their names on first use (turbodiffusion.lazy).
    loaded = _modules_after([name, "--help"])
    assert f"turbodiffusion.cli.{name}" in loaded
    assert "torch" not in loaded


def test_a_named_command_loads_only_its_own_module():
    loaded = _modules_after(["--debug", "merge", "--help"])
    assert "turbodiffusion.cli.merge" in loaded
    assert not {module for name, (module, _) in COMMANDS.items() if name != "merge"} & loaded


def _subcommands(parser) -> dict:
    """The command name -> sub-parser table of a parser from ``build_parser``."""
    return next(a for a in parser._actions if a.dest == "command").choices


def _flags(parser) -> list[str]:
    return sorted(o for a in parser._actions for o in a.option_strings)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_parser_for_one_command_has_that_commands_arguments(name):
    full = _subcommands(build_parser())
    only = _subcommands(build_parser(commands=[name]))
    assert only.keys() == full.keys()  # every command is still listed
    assert _flags(only[name]) == _flags(full[name])
    assert all(len(only[n]._actions) == 1 for n in COMMANDS if n != name)  # --help alone
