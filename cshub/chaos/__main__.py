"""``python -m cshub.chaos [--customers N] [--seed S] ...`` (``make chaos``).

``--replicas 2``: two APIs and two workers on one PostgreSQL hub store, one API SIGKILLed,
the Temporal server stopped for 10 minutes mid-load (``--temporal-outage`` to change it);
``--quick``: a short version of any mode (fewer customers, shorter load and outages)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
from typing import Any

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


_NUMBERS_BEFORE = {
    "--customers": "customers",
    "--seed": "seed",
    "--send-seconds": "send_s",
    "--settle-seconds": "settle_s",
    "--worker-kills": "worker_kills",
}
_NUMBERS_AFTER = {
    "--slack-outage": "slack_outage_s",
    "--error-rate": "error_rate",
    "--timeout-rate": "timeout_rate",
}
"""Command-line options (in ``--help``'s order) and the ``ChaosConfig`` field each sets;
its default and type are the field's."""


def chaos_config(argv: list[str] | None = None) -> ChaosConfig:
    """The run the command line asks for."""
    defaults = ChaosConfig()
    parser = argparse.ArgumentParser(prog="python -m cshub.chaos", description=__doc__)

    def numbers(options: dict[str, str]) -> None:
        for flag, name in options.items():
            default = getattr(defaults, name)
            metavar = flag.removeprefix("--").replace("-", "_").upper()
            parser.add_argument(
                flag, dest=name, metavar=metavar, type=type(default), default=default
            )

    numbers(_NUMBERS_BEFORE)
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
    numbers(_NUMBERS_AFTER)
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
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(ChaosConfig)
        if f.name in vars(args)
    }
    config = ChaosConfig(**given, temporal_outage_s=outage)
    if not args.quick:
        return config
    quick: dict[str, Any] = {k: type(getattr(config, k))(v) for k, v in QUICK.items()}
    quick["customers"] = min(config.customers, quick["customers"])
    if args.temporal_outage is not None:
        quick["temporal_outage_s"] = outage
    return dataclasses.replace(config, **quick)


def main(argv: list[str] | None = None) -> int:
    config = chaos_config(argv)
    figures = asyncio.run(run_chaos(config))
    print("\nmake chaos: what customers got while the hub was being hurt\n")
    print(table(figures), flush=True)
    return 0 if figures.clean else 1


if __name__ == "__main__":
    sys.exit(main())
