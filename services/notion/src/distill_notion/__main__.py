"""python -m distill_notion"""

from distill_core.service import run, run_stage

from distill_notion.settings import ExportSettings
from distill_notion.stage import ExportStage


def main() -> None:
    settings = ExportSettings(service_name="notion")
    run("notion", settings, lambda stop: run_stage(lambda: ExportStage(settings), settings, stop))


if __name__ == "__main__":
    main()
