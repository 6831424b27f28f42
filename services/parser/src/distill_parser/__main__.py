"""python -m distill_parser"""

from distill_core.service import run, run_stage

from distill_parser.settings import ParserSettings
from distill_parser.stage import ParseStage


def main() -> None:
    settings = ParserSettings(service_name="parser")
    run("parser", settings, lambda stop: run_stage(lambda: ParseStage(settings), settings, stop))


if __name__ == "__main__":
    main()
