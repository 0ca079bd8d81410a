"""Quantising a float DiT at load time: on the CPU where it was loaded (how the pipeline did it), against
``quantize_(..., device="cuda")`` (each layer to the GPU, quantised there, back), in one run; on a GPU also
what the DiT costs until it is on the device, as the pipeline's first call moves it there: the round trip
plus that move (``trip_move_s``) against each layer quantised on the device and left there, the rest of
the DiT moved after (``resident_s``, ``quantize_(..., to_device=True)``).

    PYTHONPATH=. python benchmarks/quantize_load.py wan2.1-t2v-1.3b --modes fp8-row int8 --json results/quantize_load.json
    PYTHONPATH=. python benchmarks/quantize_load.py wan2.1-t2v-1.3b --device cpu   # the CPU arm's time alone
    PYTHONPATH=. python benchmarks/quantize_load.py wan2.1-t2v-1.3b --quick --json /tmp/quantize_load.json   # CPU smoke

A W8A8 mode picked for a float checkpoint (generate --quant) is applied after the DiT is loaded on the CPU.
Each mode's arms start from the same random bf16 DiT on the CPU (a copy each); the table gives the seconds
of each arm, the CPU arm over the device arm, and whether the two state dicts are equal bit for bit (they
must be: the Triton quantisers give the references' codes). Before a mode's arms, its device quantises one
block untimed (h100-2026-12-05b: the first mode's device arm had carried the device's start, 5.6 s against
the second mode's 0.55 s at 1.3B). ``--device cpu`` makes both arms the CPU (the CPU's time, on a machine
without a GPU); ``--quick`` is that with a 2-layer DiT of the preset's width: it checks the script, not a
speed.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from functools import partial

import torch
from common import check_preset, environment, print_table, write_json
from e2e_stages import build_dit
from torch import nn

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.pipelines.components import QUANT_MODES, quant_config
from turbodiffusion.quant import quantize_


def float_dit(preset: str, layers: int | None, draw_on: torch.device) -> WanDiT:
    """A bf16 WanDiT of ``preset`` on the CPU with random weights drawn on ``draw_on`` (``layers`` overrides
    its depth). Drawing a 14B DiT on the CPU took longer than a device call's 240 s (h100-2026-12-05c)."""
    cfg = dit_preset(preset)
    if layers is not None:
        cfg = dataclasses.replace(cfg, num_layers=layers)
    model = build_dit(cfg, AttentionConfig(backend="sla"), draw_on, None).to("cpu")
    if draw_on.type == "cuda":
        torch.cuda.empty_cache()
    return model


def timed_quantize(
    model: WanDiT, mode: str, device: torch.device | None, to_device: bool = False
) -> tuple[float, dict]:
    """Seconds to quantise ``model`` in ``mode`` on ``device`` (None: where it is; ``to_device``: and leave
    it there), and its state dict."""
    seconds = timed(lambda: quantize_(model, quant_config(mode), device=device, to_device=to_device), device)
    return seconds, model.state_dict()


def timed(work, device: torch.device | None) -> float:
    """Seconds ``work()`` takes, the device's queue drained before and after."""
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    work()
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def same_codes(state: dict, reference: dict, device_type: str) -> bool:
    """Whether ``state`` has ``reference``'s names and bytes, every tensor on ``device_type``."""
    return list(state) == list(reference) and all(
        state[k].device.type == device_type
        and torch.equal(state[k].view(torch.uint8).cpu(), reference[k].view(torch.uint8))
        for k in reference
    )


def warm_up(model: WanDiT, mode: str, device: torch.device) -> None:
    """Quantise a copy of ``model``'s first block on ``device``, untimed: the device's first use (context,
    Triton's kernels loaded or compiled) is a process's one-off cost, not the load's."""
    first = nn.Module()
    first.blocks = nn.ModuleList([copy.deepcopy(model.blocks[0])])
    timed_quantize(first, mode, device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", help="DiT preset: wan2.1-t2v-1.3b, wan2.1-t2v-14b or wan2.2-i2v-a14b")
    parser.add_argument("--modes", nargs="+", default=["fp8-row", "int8"], choices=QUANT_MODES)
    parser.add_argument("--device", default="cuda", help="where the device arm quantises (default: cuda)")
    parser.add_argument("--layers", type=int, default=None, help="DiT depth (default: the preset's)")
    parser.add_argument("--quick", action="store_true", help="--device cpu --layers 2: a smoke run")
    parser.add_argument("--json", default="results/quantize_load.json")
    args = parser.parse_args()
    check_preset(parser, args.preset)
    if args.quick:
        args.device, args.layers = "cpu", 2
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: use --device cpu for the CPU's time, or --quick for a smoke run")
    source = float_dit(args.preset, args.layers, device)
    params = sum(p.numel() for p in source.parameters())
    print(f"{args.preset}: {params / 1e9:.2f} B parameters, bf16 on the CPU; device {device}", flush=True)
    rows = []
    for mode in args.modes:
        warm_up(source, mode, device)
        cpu_s, cpu_state = timed_quantize(copy.deepcopy(source), mode, None)
        model = copy.deepcopy(source)
        dev_s, dev_state = timed_quantize(model, mode, device)
        row = {"mode": mode, "cpu_s": cpu_s, "device_s": dev_s, "cpu_over_device": cpu_s / dev_s,
               "equal": same_codes(dev_state, cpu_state, "cpu")}  # fmt: skip
        del dev_state
        if device.type == "cuda":
            # What the pipeline's first call adds: the quantised DiT moved onto the GPU, against leaving
            # each layer there as it is quantised (one crossing of the bus instead of three).
            row["move_s"] = timed(partial(model.to, device), device)
            row["trip_move_s"] = dev_s + row["move_s"]
            del model
            torch.cuda.empty_cache()
            model = copy.deepcopy(source)
            row["resident_s"], state = timed_quantize(model, mode, device, to_device=True)
            row["trip_move_over_resident"] = row["trip_move_s"] / row["resident_s"]
            row["resident_equal"] = same_codes(state, cpu_state, "cuda")
            del state
        del model, cpu_state
        rows.append(row)
        print(f"{mode}: CPU {cpu_s:.2f} s, {device} {dev_s:.2f} s, equal {row['equal']}", flush=True)
    columns = ["mode", "cpu_s", "device_s", "cpu_over_device", "equal"]
    if device.type == "cuda":
        columns += ["move_s", "trip_move_s", "resident_s", "trip_move_over_resident", "resident_equal"]
    print_table(rows, columns)
    write_json(args.json, {"env": environment(), "args": vars(args), "parameters": params, "rows": rows})


if __name__ == "__main__":
    main()
