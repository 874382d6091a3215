"""`python -m referral`: HTTP API, consumers, relays and background jobs in one process."""

from leadflow_shared.runtime import main

from .bootstrap import bootstrap

if __name__ == "__main__":
    main(bootstrap)
