"""python -m distill_ai"""

from distill_core.service import run, run_stage

from distill_ai.settings import AiSettings
from distill_ai.stage import AiStage


def main() -> None:
    settings = AiSettings(service_name="ai")
    run("ai", settings, lambda stop: run_stage(lambda: AiStage(settings), settings, stop))


if __name__ == "__main__":
    main()
