"""requirements/*.txt (from `make lock`) pin every dependency pyproject.toml asks for."""

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# each lock file and the extras of pyproject it installs
LOCKS = {"api.txt": (), "worker.txt": ("nlp",), "dev.txt": ("nlp", "dev")}
NLP_STACK = {
    canonicalize_name(Requirement(line).name) for line in PROJECT["optional-dependencies"]["nlp"]
}


def pins(lock: str) -> dict[str, Version]:
    """``name==version`` lines of a lock file, by canonical name."""
    pinned = {}
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        if line and not line.startswith((" ", "#", "-")):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = Version(version)
    return pinned


def required(extras: tuple[str, ...]) -> list[Requirement]:
    lines = [*PROJECT["dependencies"]]
    for extra in extras:
        lines += PROJECT["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(("lock", "extras"), LOCKS.items())
def test_each_lock_pins_every_dependency_within_its_range(
    lock: str, extras: tuple[str, ...]
) -> None:
    pinned = pins(lock)
    for requirement in required(extras):
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is not in requirements/{lock}: run `make lock`"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={pinned[name]}, outside {requirement.specifier}: "
            "run `make lock`"
        )


def test_the_locks_agree_on_every_version() -> None:
    everything = pins("dev.txt")
    for lock in ("api.txt", "worker.txt"):
        differ = {n: v for n, v in pins(lock).items() if everything.get(n) != v}
        assert not differ, f"requirements/{lock} and dev.txt differ: {differ}"


def test_the_api_lock_carries_no_nlp_stack() -> None:
    assert not NLP_STACK & set(pins("api.txt")), "the API image would carry the NLP stack"
    assert set(pins("worker.txt")) >= NLP_STACK


def test_torch_is_pinned_to_its_cpu_build() -> None:
    assert pins("worker.txt")["torch"].local == "cpu"
