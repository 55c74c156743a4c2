"""``python -m cshub.chaos [--customers N] [--seed S] ...`` (``make chaos``)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from cshub.chaos.run import ChaosConfig, run_chaos, table


def main(argv: list[str] | None = None) -> int:
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m cshub.chaos", description=__doc__)
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--send-seconds", type=float, default=defaults.send_s)
    parser.add_argument("--settle-seconds", type=float, default=defaults.settle_s)
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument("--temporal-outage", type=float, default=defaults.temporal_outage_s)
    parser.add_argument("--slack-outage", type=float, default=defaults.slack_outage_s)
    parser.add_argument("--error-rate", type=float, default=defaults.error_rate)
    parser.add_argument("--timeout-rate", type=float, default=defaults.timeout_rate)
    parser.add_argument("--keep", action="store_true", help="keep the run folder (logs, databases)")
    parser.add_argument(
        "--replicas",
        type=int,
        default=defaults.replicas,
        help="2+: that many APIs and workers on one PostgreSQL hub store, one API SIGKILLed",
    )
    args = parser.parse_args(argv)
    if args.customers < 1:
        parser.error("--customers must be at least 1")
    config = ChaosConfig(
        customers=args.customers,
        seed=args.seed,
        send_s=args.send_seconds,
        settle_s=args.settle_seconds,
        worker_kills=args.worker_kills,
        temporal_outage_s=args.temporal_outage,
        slack_outage_s=args.slack_outage,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        keep=args.keep,
        replicas=args.replicas,
    )
    figures = asyncio.run(run_chaos(config))
    print("\nmake chaos: what customers got while the hub was being hurt\n")
    print(table(figures), flush=True)
    return 0 if figures.clean else 1


if __name__ == "__main__":
    sys.exit(main())
