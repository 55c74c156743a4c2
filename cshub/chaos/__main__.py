"""``python -m cshub.chaos [--customers N] [--seed S] ...`` (``make chaos``).

``--replicas 2``: two APIs and two workers on one PostgreSQL hub store, one API SIGKILLed,
the Temporal server stopped for 10 minutes mid-load (``--temporal-outage`` to change it);
``--quick``: a short version of any mode (fewer customers, shorter load and outages)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from cshub.chaos.run import ChaosConfig, run_chaos, table

REPLICAS_TEMPORAL_OUTAGE_S = 600.0
"""Several replicas: the Temporal server is down 10 minutes mid-load (issue 27)."""
QUICK: dict[str, float] = {
    "customers": 8,
    "send_s": 30.0,
    "temporal_outage_s": 20.0,
    "slack_outage_s": 20.0,
    "worker_kills": 2,
    "settle_s": 300.0,
}
"""``--quick``: what a short run changes."""


def main(argv: list[str] | None = None) -> int:
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m cshub.chaos", description=__doc__)
    parser.add_argument("--customers", type=int, default=defaults.customers)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--send-seconds", type=float, default=defaults.send_s)
    parser.add_argument("--settle-seconds", type=float, default=defaults.settle_s)
    parser.add_argument("--worker-kills", type=int, default=defaults.worker_kills)
    parser.add_argument(
        "--temporal-outage",
        type=float,
        default=None,
        help=f"seconds (default {defaults.temporal_outage_s:g}; with --replicas 2+: "
        f"{REPLICAS_TEMPORAL_OUTAGE_S:g}; with --quick: {QUICK['temporal_outage_s']:g})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run: "
        + ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:g}" for k, v in QUICK.items()),
    )
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
    outage = args.temporal_outage
    if outage is None:
        outage = REPLICAS_TEMPORAL_OUTAGE_S if args.replicas > 1 else defaults.temporal_outage_s
    config = ChaosConfig(
        customers=args.customers,
        seed=args.seed,
        send_s=args.send_seconds,
        settle_s=args.settle_seconds,
        worker_kills=args.worker_kills,
        temporal_outage_s=outage,
        slack_outage_s=args.slack_outage,
        error_rate=args.error_rate,
        timeout_rate=args.timeout_rate,
        keep=args.keep,
        replicas=args.replicas,
    )
    if args.quick:
        config = dataclasses.replace(
            config,
            customers=min(config.customers, int(QUICK["customers"])),
            send_s=QUICK["send_s"],
            slack_outage_s=QUICK["slack_outage_s"],
            worker_kills=int(QUICK["worker_kills"]),
            settle_s=QUICK["settle_s"],
            temporal_outage_s=(
                QUICK["temporal_outage_s"] if args.temporal_outage is None else outage
            ),
        )
    figures = asyncio.run(run_chaos(config))
    print("\nmake chaos: what customers got while the hub was being hurt\n")
    print(table(figures), flush=True)
    return 0 if figures.clean else 1


if __name__ == "__main__":
    sys.exit(main())
