"""CPU: the shipped student on every "a <colour> <shape> moving <direction>" of the issue's required words
(red, green, blue, yellow x circle, square x left, right, up, down), seed 0, the CLI's defaults; prints
what the frame analyser reads for each and the count right.

    python benchmarks/runs/h200-2026-12-02c/default_model/cpu_experiments/required_words.py
"""

from __future__ import annotations

import itertools

from turbodiffusion.eval.analyser import analyse
from turbodiffusion.pipelines import TurboPipeline
from turbodiffusion.pipelines.presets import installed_default_preset
from turbodiffusion.world.scenes import held_out_combinations


def main() -> None:
    pipe = TurboPipeline.from_pretrained(installed_default_preset(), device="cpu")
    held_out = set(held_out_combinations())
    right = 0
    combos = list(
        itertools.product(
            ("red", "green", "blue", "yellow"), ("circle", "square"), ("left", "right", "up", "down")
        )
    )
    for colour, shape, direction in combos:
        seen = analyse(pipe(f"a {colour} {shape} moving {direction}", seed=0, progress=False).frames)
        ok = (seen.colour, seen.shape, seen.direction, seen.visible) == (colour, shape, direction, True)
        right += ok
        tag = " (held out)" if (colour, shape, direction) in held_out else ""
        print(f"{'ok  ' if ok else 'MISS'} {colour} {shape} {direction}{tag}: {seen}", flush=True)
    print(f"{right} of {len(combos)} right")


if __name__ == "__main__":
    main()
