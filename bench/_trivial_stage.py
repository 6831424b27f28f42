"""A stage process for the orchestration benchmark: the real runner with a do-nothing handler.

python -m bench._trivial_stage parse|ai|notion
"""

from __future__ import annotations

import asyncio
import sys

from distill_core.runner import BaseStage, JobContext, StageResult
from distill_core.service import run, run_stage
from distill_core.settings import Settings


class Trivial(BaseStage):
    def __init__(self, name: str) -> None:
        self.name = name

    async def handle(self, ctx: JobContext) -> StageResult:
        return StageResult()


def main() -> None:
    stage = sys.argv[1]
    settings = Settings(service_name=f"bench-{stage}")
    run(f"bench-{stage}", settings, lambda stop: run_stage(lambda: Trivial(stage), settings, stop))


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
