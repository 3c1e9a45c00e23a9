"""Every registered collector loads, passes a contract suite, and has a row in README."""

import importlib
import inspect
import pkgutil
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import tests.collectors
from collectors.registry import GROUP, is_inbound, registered
from tests.collectors.contract import CollectorContract
from tests.collectors.webhook_contract import WebhookContract

HERE = Path(__file__).parent
README = (HERE.parents[1] / "README.md").read_text(encoding="utf-8")


def contract_suites() -> dict[str, list[type]]:
    """Contract subclasses found in tests/collectors/<kind>/, by the kind they test."""
    found: dict[str, list[type]] = {}
    for module_info in pkgutil.walk_packages(tests.collectors.__path__, "tests.collectors."):
        if not module_info.name.rsplit(".", 1)[-1].startswith("test_"):
            continue
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls in (CollectorContract, WebhookContract) or not issubclass(
                cls, CollectorContract | WebhookContract
            ):
                continue
            found.setdefault(cls.kind, []).append(cls)
    return found


def test_every_built_in_entry_point_loads() -> None:
    declared = {entry.name for entry in entry_points(group=GROUP)}
    assert declared - set(registered()) == set()


@pytest.mark.parametrize("kind", sorted(registered()))
def test_each_collector_runs_its_contract_suite(kind: str) -> None:
    suites = contract_suites().get(kind, [])
    expected = WebhookContract if is_inbound(registered()[kind]) else CollectorContract
    assert any(issubclass(suite, expected) for suite in suites), (
        f"no {expected.__name__} subclass tests the {kind!r} collector in tests/collectors/"
    )
    assert (HERE / kind).is_dir(), (
        f"the {kind!r} collector's tests belong in tests/collectors/{kind}/"
    )
    assert list((HERE / kind).glob("*.json")), (
        f"tests/collectors/{kind}/ holds no recorded response"
    )


@pytest.mark.parametrize("kind", sorted(registered()))
def test_each_collector_has_a_readme_row(kind: str) -> None:
    assert f"| `{kind}` |" in README, f"README.md has no row for the {kind!r} source"
