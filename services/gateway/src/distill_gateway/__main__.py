"""python -m distill_gateway"""

from distill_core.service import run
from distill_core.settings import GatewaySettings

from distill_gateway.app import serve


def main() -> None:
    settings = GatewaySettings(service_name="gateway")
    run("gateway", settings, lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
