"""README stays true: every setting, CLI command and API route is documented there."""

import re
from pathlib import Path

from hub.app import create_app
from hub.cli import app as cli_app
from hub.config import Settings

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"HUB_{name.upper()}" in README, f"HUB_{name.upper()} is not in README.md"


def test_every_cli_command_is_documented() -> None:
    import typer.main

    group = typer.main.get_command(cli_app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        for full in [f"{name} {sub}" for sub in subcommands] if subcommands else [name]:
            assert f"feedback-hub {full}" in README, f"`feedback-hub {full}` is not in README.md"


def test_every_api_route_is_documented() -> None:
    schema = create_app(Settings(database_url="sqlite://")).openapi()
    for path, operations in schema["paths"].items():
        for method in operations:
            pattern = rf"{method.upper()}\s+`?{re.escape(path)}"
            assert re.search(pattern, README), f"{method.upper()} {path} is not in README.md"


def test_the_ci_script_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    command = [
        line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))
    ][-1]
    assert command in README
