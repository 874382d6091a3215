import asyncio

from leadflow_shared.runtime import configure_logging, serve

from .bootstrap import bootstrap


def main() -> None:
    configure_logging()
    running = bootstrap()
    asyncio.run(serve(running))


if __name__ == "__main__":
    main()
