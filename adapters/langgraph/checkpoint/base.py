"""LangGraph's ``langgraph.checkpoint.base``: the savers' base class (for type hints and
``isinstance``; every lograph saver derives from it) and what their read API returns."""

from lograph.runtime import Checkpointer as BaseCheckpointSaver
from lograph.runtime import CheckpointTuple

__all__ = ["BaseCheckpointSaver", "CheckpointTuple"]
