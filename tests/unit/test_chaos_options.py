"""``python -m cshub.chaos``'s options become the ChaosConfig they name."""

import dataclasses

import pytest

from cshub.chaos.__main__ import QUICK, REPLICAS_TEMPORAL_OUTAGE_S, chaos_config
from cshub.chaos.run import ChaosConfig


def test_no_options_is_the_default_run() -> None:
    assert chaos_config([]) == ChaosConfig()


def test_each_option_sets_its_field() -> None:
    argv = "--customers 30 --seed 9 --send-seconds 12 --settle-seconds 40 --worker-kills 1"
    argv += " --slack-outage 3 --error-rate 0.5 --timeout-rate 0.1 --keep --replicas 3"
    config = chaos_config([*argv.split(), "--temporal-outage", "7"])
    assert dataclasses.asdict(config) == {
        "customers": 30,
        "seed": 9,
        "send_s": 12.0,
        "settle_s": 40.0,
        "worker_kills": 1,
        "temporal_outage_s": 7.0,
        "slack_outage_s": 3.0,
        "error_rate": 0.5,
        "timeout_rate": 0.1,
        "keep": True,
        "replicas": 3,
    }
    assert isinstance(config.worker_kills, int) and isinstance(config.send_s, float)


def test_replicas_get_the_long_temporal_outage() -> None:
    assert chaos_config(["--replicas", "2"]).temporal_outage_s == REPLICAS_TEMPORAL_OUTAGE_S


def test_quick_shortens_the_run_but_keeps_what_was_asked() -> None:
    quick = chaos_config(["--quick", "--customers", "50", "--seed", "3"])
    assert (quick.customers, quick.seed, quick.send_s) == (QUICK["customers"], 3, QUICK["send_s"])
    assert quick.temporal_outage_s == QUICK["temporal_outage_s"]
    assert isinstance(quick.worker_kills, int)
    few = chaos_config(["--quick", "--customers", "3", "--temporal-outage", "5"])
    assert (few.customers, few.temporal_outage_s) == (3, 5.0)


def test_no_customers_is_refused() -> None:
    with pytest.raises(SystemExit):
        chaos_config(["--customers", "0"])
