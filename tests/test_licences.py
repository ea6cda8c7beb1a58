"""The licence is declared once in each place that needs it, and README lists every dependency's."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Licences"


def project() -> dict[str, object]:
    document = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    table = document["project"]
    assert isinstance(table, dict)
    return table


def distribution_name(requirement: str) -> str:
    """The normalised name (PEP 503) of a requirement such as ``moto[server]>=5.1,<6``."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group()).lower()


def listed_in_readme() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in text
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)`", section, flags=re.MULTILINE)
    return {distribution_name(row) for row in rows}


def test_readme_lists_the_licence_of_every_runtime_dependency() -> None:
    dependencies = project()["dependencies"]
    assert isinstance(dependencies, list)
    names = {distribution_name(requirement) for requirement in dependencies}
    assert names, "pyproject.toml lists no dependencies"
    assert names - listed_in_readme() == set()


def test_readme_lists_the_licence_of_every_dev_dependency() -> None:
    extras = project()["optional-dependencies"]
    assert isinstance(extras, dict)
    names = {distribution_name(requirement) for requirement in extras["dev"]}
    assert names - listed_in_readme() == set()


def test_the_licence_is_agpl_3_or_later_everywhere() -> None:
    assert project()["license"] == "AGPL-3.0-or-later"
    assert project()["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="ascii")
    assert text.split("\n", 2)[:2] == [
        " " * 20 + "GNU AFFERO GENERAL PUBLIC LICENSE",
        " " * 23 + "Version 3, 19 November 2007",
    ]
    assert len(text.encode()) == 34523  # the FSF's agpl-3.0.txt, unchanged
    assert "`AGPL-3.0-or-later`" in (ROOT / "README.md").read_text(encoding="utf-8")
