"""The README's promises stay true."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands():
    # One command runs the tour, the other the tests.
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0].endswith("python -m skmath")
    assert "pytest" in commands[1]
    assert all("torch==2.13.0" in c for c in commands)


def test_ci_runs_the_readme_test_command():
    # Every test run in .ci/run is the README's test command: first in the
    # README's environment, then on the oldest dependencies pyproject admits.
    test_command = _readme_commands()[1].split("&&")[-1].strip()
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    runs = [line for line in ci_lines if "pytest" in line and not line.startswith("#")]
    assert runs == [test_command, test_command]
    assert ci_lines[-1] == test_command
