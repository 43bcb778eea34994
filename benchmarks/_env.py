"""The benchmark environment ``benchmarks/.venv``: created on demand, then re-entered.

When the run needs LangGraph (``--compare langgraph``) or matplotlib (``--bench-env``)
and this interpreter is not ``benchmarks/.venv``'s, :func:`ensure` creates or refreshes
that venv and replaces this process with ``benchmarks/.venv/bin/python -m benchmarks``
and the same arguments. Only the standard library is used before that point, so it
works from any Python >= 3.11 on a fresh clone.

A stamp file in the venv holds a hash of :data:`REQUIREMENTS` and ``pyproject.toml``;
when either changes the packages are installed again (into the same venv).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
VENV = BENCH_DIR / ".venv"
STAMP = VENV / ".bench-installed"
_REEXEC = "LOGRAPH_BENCH_REEXEC"

#: installed into benchmarks/.venv beside ``-e '.[dev]'`` (never into the project's .venv)
REQUIREMENTS = [
    "langgraph>=1.0,<2",
    "langgraph-checkpoint-sqlite>=3,<4",
    "aiosqlite>=0.20",
    "langgraph-checkpoint-postgres>=3,<4",
    "psycopg[binary]>=3.2",
    "psycopg-pool>=3.2",
    "matplotlib>=3.8",
    "rich>=13",
]


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def inside() -> bool:
    """True when this interpreter is benchmarks/.venv's."""
    return Path(sys.prefix).resolve() == VENV.resolve()


def _fingerprint() -> str:
    h = hashlib.sha256("\n".join(REQUIREMENTS).encode())
    h.update((ROOT / "pyproject.toml").read_bytes())
    return h.hexdigest()


def _say(msg: str) -> None:
    print(f"[benchmarks] {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str]) -> None:
    _say(" ".join(cmd))
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"[benchmarks] failed (exit {done.returncode}): {' '.join(cmd)}")


def build() -> None:
    """Create benchmarks/.venv if missing and install the packages if the stamp is stale."""
    fingerprint = _fingerprint()
    python = venv_python()
    if not python.exists():
        _say(f"creating the benchmark environment {VENV} (once; about a minute)")
        _run([sys.executable, "-m", "venv", str(VENV)])
    if STAMP.exists() and STAMP.read_text().strip() == fingerprint:
        return
    _run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    _run([str(python), "-m", "pip", "install", "-q", "-e", f"{ROOT}[dev]", *REQUIREMENTS])
    STAMP.write_text(fingerprint + "\n")


def ensure(argv: list[str]) -> None:
    """Return if this interpreter will do; otherwise build the venv and exec into it."""
    if inside():
        return
    if os.environ.get(_REEXEC):
        raise SystemExit(
            f"[benchmarks] re-executed into {venv_python()} but sys.prefix is {sys.prefix}; "
            f"remove {VENV} and run again"
        )
    build()
    env = dict(os.environ)
    env[_REEXEC] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("PYTHONHOME", None)
    python = str(venv_python())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(python, [python, "-m", "benchmarks", *argv], env)
