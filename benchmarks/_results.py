"""One cell of the suite (a workload on a store, in a mode, on an engine) and its outcome."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MACHINE = "machine"  # the engine name of the storage-floor cells


@dataclass
class Cell:
    workload: str
    store: str
    mode: str
    engine: str
    status: str = "pending"  # pending | ok | failed
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    profile: str | None = None

    @property
    def name(self) -> str:
        return f"{self.workload}/{self.store}/{self.mode}/{self.engine}"

    @property
    def key(self) -> str:
        return f"{self.workload}_{self.mode}".replace(" ", "")

    def get(self, metric: str) -> Any:
        return self.metrics.get(metric) if self.status == "ok" else None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def find(cells: list[Cell], workload: str, store: str, mode: str, engine: str) -> Cell | None:
    for c in cells:
        if (c.workload, c.store, c.mode, c.engine) == (workload, store, mode, engine):
            return c
    return None
