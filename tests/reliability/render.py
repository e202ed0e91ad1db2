"""Writes docs/reliability.md from the JSON lines the reliability suite logged.

Usage: python -m tests.reliability.render LOG > docs/reliability.md (``make reliability``).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

AREAS = {
    "network": "Network faults",
    "data": "Data faults",
    "process": "Process faults",
    "secrets": "Secrets",
    "input": "Hostile input",
}

HEADER = """# Reliability

Written by `make reliability` from the reliability suite (tests/reliability/, part of `make
test`); do not edit by hand. Every row is one scenario run against a real loopback HTTP server,
a real DuckDB file and real processes, with canary values in IPC_API_KEY and
HDX_HAPI_APP_IDENTIFIER: after each scenario every file it wrote (data/, reports/, recordings)
and all its stdout and stderr are searched for the canaries. "Rows lost" counts the rows of
the last good warehouse that the scenario lost. Each command reproduces its row.
"""


def cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(lines: list[dict]) -> str:
    totals = Counter(line["area"] for line in lines)
    lost = sum(line["rows_lost"] for line in lines)
    parts = [HEADER]
    summary = ", ".join(f"{AREAS.get(a, a).lower()} {n}" for a, n in sorted(totals.items()))
    parts.append(f"\n{len(lines)} scenarios ({summary}); rows lost in all: {lost}.\n")
    for area, title in AREAS.items():
        rows = sorted((x for x in lines if x["area"] == area), key=lambda x: x["scenario"])
        if not rows:
            continue
        parts.append(f"\n## {title}\n\n| scenario | expected | observed | rows lost | command |\n")
        parts.append("|---|---|---|---|---|\n")
        for x in rows:
            parts.append(
                f"| {cell(x['scenario'])} | {cell(x['expected'])} | {cell(x['observed'])} | "
                f"{x['rows_lost']} | `{cell(x['command'])}` |\n"
            )
    return "".join(parts)


def main(log: str) -> None:
    lines = [json.loads(x) for x in Path(log).read_text().splitlines() if x.strip()]
    sys.stdout.write(render(lines))


if __name__ == "__main__":
    main(sys.argv[1])
