"""FastestOption: each option is tried for its warm-up and timed steps in order, then the fastest is kept."""

from __future__ import annotations

import pytest

from turbodiffusion.training.fastest import FastestOption, timed


def run(picker: FastestOption, cost: dict, steps: int) -> list:
    """Drive ``steps`` steps whose time is cost[option] (the first step of each option 100 s: a warm-up)."""
    used, seen = [], set()
    for _ in range(steps):
        option = picker.current()
        used.append(option)
        picker.done(100.0 if option not in seen else cost[option])
        seen.add(option)
    return used


def test_tries_each_option_in_turn_then_keeps_the_fastest():
    picker = FastestOption(["a", "b", "c"], warmup=1, timed=2)
    used = run(picker, {"a": 3.0, "b": 1.0, "c": 2.0}, 12)
    assert used == ["a"] * 3 + ["b"] * 3 + ["c"] * 3 + ["b"] * 3
    assert not picker.trying and picker.chosen == "b"
    # Only the timed steps count: the 100 s warm-ups are left out.
    assert picker.summary() == {"chosen": "b", "timed_seconds": {"a": 6.0, "b": 2.0, "c": 4.0}}


def test_warm_up_steps_do_not_decide():
    picker = FastestOption([1, 8], warmup=1, timed=1)
    # Option 1's warm-up is cheap and its timed step dear; option 8 the other way round.
    for seconds in (0.1, 5.0, 9.0, 1.0):
        picker.done(seconds)
    assert picker.chosen == 8


def test_one_option_is_chosen_at_once():
    picker = FastestOption([4])
    assert not picker.trying and picker.current() == 4
    picker.done(1.0)
    assert picker.summary() == {"chosen": 4, "timed_seconds": {"4": 0.0}}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least one option"):
        FastestOption([])
    with pytest.raises(ValueError, match="timed >= 1"):
        FastestOption([1, 2], timed=0)


def test_timed_returns_the_result_and_synchronises_around_the_step():
    calls = []
    result, seconds = timed(lambda: calls.append("step") or 7, lambda: calls.append("sync"))
    assert result == 7 and seconds >= 0.0
    assert calls == ["sync", "step", "sync"]
