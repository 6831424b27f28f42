"""The stage runner: fetch, claim, handle, record, hand off, ack (see runner.py)."""

from distill_core.runner.context import JobContext, StageResult, result_id
from distill_core.runner.runner import BaseStage, Stage, StageRunner

__all__ = ["BaseStage", "JobContext", "Stage", "StageResult", "StageRunner", "result_id"]
