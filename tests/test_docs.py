"""Docs that the code keeps honest: the data dictionary and the README's command table."""

from __future__ import annotations

import re

from typer.main import get_command

from aggregator.cli import app
from aggregator.dictionary import markdown
from tests.conftest import ROOT


def test_data_dictionary_is_current():
    """docs/data-dictionary.md equals what `aggregator schema --markdown` prints now."""
    on_disk = (ROOT / "docs" / "data-dictionary.md").read_text()
    assert on_disk == markdown(), "docs/data-dictionary.md is stale: run `make docs`"


def test_every_table_is_in_the_dictionary():
    """Each table of the schemas registry has a section."""
    from schemas import TABLES

    text = markdown()
    for name in TABLES:
        assert f"## `{name}`" in text


def test_readme_documents_every_command():
    """Every CLI command appears in the README's command table, and nothing more."""
    commands = set(get_command(app).commands)
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `aggregator (\w+)", readme, flags=re.M))
    assert documented == commands


def test_readme_starts_with_the_two_commands():
    """The first lines give the set-up-and-run command and the test command."""
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:8])
    assert "make demo" in head and "make test" in head


def test_methodology_tolerance_table_matches_the_metric_registry():
    """Every metric appears in docs/methodology.md's tolerance table with its own tolerance."""
    from schemas.metrics import METRICS

    text = (ROOT / "docs" / "methodology.md").read_text()
    table = {}
    for line in re.findall(
        r"^\| (?:ipc|casualties|aid|funding|needs|displacement|conflict)\..*$", text, flags=re.M
    ):
        names, _, tolerance = (cell.strip() for cell in line.strip("|").split("|"))
        for name in re.findall(r"[a-z0-9_]+(?:\.[a-z0-9_]+)+", names):
            table[name] = tolerance
        if "…" in names:  # ipc.phase1.x … ipc.phase5.x stands for phases 1 to 5
            kind = names.split("…")[0].strip().split(".")[-1]
            for phase in range(1, 6):
                table[f"ipc.phase{phase}.{kind}"] = tolerance
    for metric in METRICS.values():
        assert metric.id in table, f"{metric.id} missing from the methodology tolerance table"
        points = metric.unit == "share"
        expected = f"{metric.tolerance * 100:g} {'points' if points else ''}".strip()
        expected = expected if points else f"{metric.tolerance * 100:g}%"
        assert table[metric.id] == expected, metric.id


def test_methodology_names_every_verdict():
    from aggregator.compare import VERDICTS

    text = (ROOT / "docs" / "methodology.md").read_text()
    for verdict in VERDICTS:
        assert f"| `{verdict}` |" in text


def test_reliability_doc_covers_every_scenario_test():
    """docs/reliability.md has a row for every test of tests/reliability/ and names only
    tests that exist: a scenario added or renamed without `make reliability` fails here."""
    doc = (ROOT / "docs" / "reliability.md").read_text()
    listed = set(re.findall(r"tests/reliability/(test_\w+\.py)::(test_\w+)", doc))
    existing = {
        (path.name, name)
        for path in (ROOT / "tests" / "reliability").glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), flags=re.M)
    }
    assert listed == existing, "docs/reliability.md is stale: run `make reliability`"
    assert re.search(r"rows lost in all: 0\.", doc)
