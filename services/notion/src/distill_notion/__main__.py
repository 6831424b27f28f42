"""python -m distill_notion: the export stage, and beside it the report worker."""

import asyncio

from distill_core.service import run, run_stage

from distill_notion.report_worker import ReportWorker, run_beside
from distill_notion.settings import ExportSettings
from distill_notion.stage import ExportStage


async def serve(settings: ExportSettings, stop: asyncio.Event) -> None:
    await run_beside(ReportWorker(settings), stop, run_stage(lambda: ExportStage(settings), settings, stop))


def main() -> None:
    settings = ExportSettings(service_name="notion")
    run("notion", settings, lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
