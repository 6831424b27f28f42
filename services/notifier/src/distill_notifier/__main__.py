"""python -m distill_notifier"""

from distill_core.service import run

from distill_notifier.app import serve
from distill_notifier.settings import NotifierSettings


def main() -> None:
    settings = NotifierSettings(service_name="notifier")
    run("notifier", settings, lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
