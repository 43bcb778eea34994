"""The README's usage example runs as a script, as a newcomer would save and run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def usage_program() -> str:
    """The first ``python`` block of the README's "Usage" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Usage\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None, "the README's Usage section has no python block"
    return found.group(1)


def test_the_usage_example_runs_twice_as_a_script(tmp_path: Path) -> None:
    script = tmp_path / "agent.py"
    script.write_text(usage_program(), encoding="utf-8")
    outputs = []
    for _ in range(2):  # the second run continues the thread the first left in agent.db
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs == [
        "{'messages': ['start', 'done'], 'status': 'ok'}",
        "{'messages': ['start', 'done', 'start', 'done'], 'status': 'ok'}",
    ]
    assert (tmp_path / "agent.db").exists()
