"""Pieces of benchmarks/e2e.py outside the DiT rows: timing, random-weight models and the stages.

Timing is CUDA events on a GPU (wall clock on the CPU for --quick); every model is built on ``meta`` and
filled with random bf16 weights on the device (timings do not depend on weight values). Stages: umT5-XXL
text encoding, the i2v image encoding (pipelines.i2v.image_condition) and the VAE decode, each timed with
its model alone on the device.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch
from gpu_clock import sync
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.umt5 import UMT5Config, UMT5Encoder
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.models.wan.vae import WanVAE, WanVAEConfig
from turbodiffusion.pipelines.builtin import fill_random
from turbodiffusion.pipelines.components import quant_config
from turbodiffusion.pipelines.i2v import image_condition
from turbodiffusion.pipelines.presets import RESOLUTIONS
from turbodiffusion.pipelines.text import trimmed_rows
from turbodiffusion.quant import Fp8Config, QuantConfig, quantize_
from turbodiffusion.testing.compare import rel_l2

QUICK_SIZE = (5, 64, 96)  # frames, height, width of a --quick video: latent 2 x 8 x 12, L = 48


@dataclasses.dataclass(frozen=True)
class DitShape:
    """What a benchmark's DiT runs on: its config, the video size and the latent [1, C, F, h, w]."""

    cfg: WanDiTConfig
    frames: int
    height: int
    width: int
    latent: tuple[int, int, int, int, int]
    tokens: int  # L: latent positions after patching


def dit_shape(preset: WanDiTConfig, resolution: str, frames: int, quick_dit: WanDiTConfig | None) -> DitShape:
    """The preset at ``resolution`` (a key of RESOLUTIONS) and ``frames``, or, given ``quick_dit`` (a
    --quick run), that tiny config with the preset's kind (t2v / i2v) at QUICK_SIZE."""
    if quick_dit is not None:
        cfg = dataclasses.replace(quick_dit, in_dim=preset.in_dim, model_type=preset.model_type)
        frames, height, width = QUICK_SIZE
    else:
        cfg = preset
        width, height = RESOLUTIONS[resolution]
    lat = (1, cfg.out_dim, 1 + (frames - 1) // 4, height // 8, width // 8)
    tokens = lat[2] * (lat[3] // cfg.patch_size[1]) * (lat[4] // cfg.patch_size[2])
    return DitShape(cfg, frames, height, width, lat, tokens)


def random_dit_inputs(shape: DitShape, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """The random DiT inputs of the forward-only benchmarks (seed 5): latent x [1, C, F, h, w] bf16, timestep
    t [1] bf16 (988, an early rCM step), context [1, text_len, text_dim] bf16 and, for i2v, y [1, cond_dim,
    F, h, w] bf16 (else None)."""
    cfg = shape.cfg
    g = torch.Generator(device).manual_seed(5)
    x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
    t = torch.full((1,), 988.0, device=device, dtype=torch.bfloat16)
    context = torch.randn(1, cfg.text_len, cfg.text_dim, generator=g, device=device).to(torch.bfloat16)
    y = None
    if cfg.model_type == "i2v":
        y = torch.randn(1, cfg.cond_dim, *shape.latent[2:], generator=g, device=device).to(torch.bfloat16)
    return x, t, context, y


# ---------------------------------------------------------------------------------------------------------
# Timing


class GraphForward:
    """One forward captured in a CUDA graph on static copies of x and t (context and y fixed); calling it
    copies x and t in and replays (CUDA only). The graphs of a sampling run with the text cache are
    ``pipelines.forward_graphs.ForwardGraphs``.

    The output tensor is reused by every replay: callers must consume it before the next call (rcm_sample
    converts it to float64 at once).
    """

    def __init__(self, model: WanDiT, x: Tensor, t: Tensor, context: Tensor, y: Tensor | None) -> None:
        self.static_x, self.static_t, self.context = x.clone(), t.clone(), context
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side), torch.no_grad():
            # One allocator warm-up outside the capture (earlier calls already autotuned the kernels).
            model(self.static_x, self.static_t, context, y)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.static_out = model(self.static_x, self.static_t, context, y)

    def __call__(self, x_in: Tensor, t_in: Tensor) -> Tensor:
        self.static_x.copy_(x_in)
        self.static_t.copy_(t_in)
        self.graph.replay()
        return self.static_out


def time_calls(
    fn: Callable[[], object],
    reps: int,
    device: torch.device,
    guard: contextlib.AbstractContextManager | None = None,
) -> list[float]:
    """Milliseconds of each of ``reps`` calls: CUDA events on a GPU (one sync after the last), else wall
    clock. ``guard`` is entered around the calls alone (not the final sync): the host-sync counter."""
    guard = guard if guard is not None else contextlib.nullcontext()
    if device.type == "cuda":
        events = [
            (torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(reps)
        ]
        with guard:
            for start, end in events:
                start.record()
                fn()
                end.record()
        torch.cuda.synchronize(device)
        return [s.elapsed_time(e) for s, e in events]
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def quantiles(ms: list[float]) -> tuple[float, float, float]:
    """(p50, p20, p80) of a list of times (all three equal for a single time)."""
    t = torch.tensor(ms, dtype=torch.float64)
    p50, p20, p80 = (float(torch.quantile(t, q)) for q in (0.5, 0.2, 0.8))
    return p50, p20, p80


def first_call(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    """(seconds, result) of one synchronised call (compile and autotune included)."""
    sync(device)
    t0 = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - t0, result


def time_forward(forward: Callable[[], Tensor], reps: int, device: torch.device) -> tuple[dict, Tensor]:
    """One warm-up call, then ``reps`` timed calls of ``forward``. Returns ({first_call_s, fwd_ms (p50),
    fwd_p20, fwd_p80, fwd_reps}, the warm-up's output in fp32, copied before the timed calls since a
    graph replay reuses its output buffer)."""
    first, result = first_call(forward, device)
    out = result.float().clone()
    p50, p20, p80 = quantiles(time_calls(forward, reps, device))
    return {"first_call_s": first, "fwd_ms": p50, "fwd_p20": p20, "fwd_p80": p80, "fwd_reps": reps}, out


@dataclasses.dataclass
class SettingTimes:
    """What ``time_setting`` measured of one setting of a stage."""

    first_s: float  # the first, untimed call (compile and autotune included)
    result: object  # that call's result
    added_gib: float | None  # GiB the call added at its peak over what was allocated before (None off CUDA)
    s: float  # median seconds of the timed calls
    peak_gib: float | None  # the device's peak since this setting began (None off CUDA)


def time_setting(fn: Callable[[], object], device: torch.device, reps: int) -> SettingTimes:
    """One setting of a stage: a first call, with what it added to the device's memory (what it needs
    free), then ``reps`` timed calls."""
    reset_memory(device)
    before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    first, result = first_call(fn, device)
    added = (torch.cuda.max_memory_allocated(device) - before) / 1024**3 if device.type == "cuda" else None
    seconds = quantiles(time_calls(fn, reps, device))[0] / 1e3
    return SettingTimes(first, result, added, seconds, peak_gib(device))


def time_setting_or_oom(fn: Callable[[], object], device: torch.device, reps: int) -> SettingTimes | None:
    """``time_setting``, or None when the setting runs out of device memory (its memory freed): a stage's
    large chunks may not fit a smaller GPU (720p decodes in chunks of 20 on an 80 GB H100), and one setting
    that does not fit must not lose the run's other settings and rows."""
    try:
        return time_setting(fn, device, reps)
    except torch.OutOfMemoryError:
        reset_memory(device)
        return None


def fastest(times: dict, prefix: str = "") -> object:
    """The key of ``times`` (starting with ``prefix``) with the least time, skipping None (out of memory);
    raises RuntimeError naming the settings when none of them ran."""
    ran = [key for key, s in times.items() if s is not None and str(key).startswith(prefix)]
    if not ran:
        raise RuntimeError(
            f"every setting ({', '.join(map(str, times))}) ran out of device memory: pass smaller "
            "--vae-chunk-latents"
        )
    return min(ran, key=times.get)


def peak_gib(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 1024**3 if device.type == "cuda" else None


def reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


# ---------------------------------------------------------------------------------------------------------
# Models with random weights


# Quantisation modes by name (benchmark rows and variants): the config and the GEMM kind the roofline counts.
# Those a pipeline offers take the pipeline's own config (TurboPipeline's quant / generate --quant), so a row
# times what that mode runs; block-scaled FP8 is a benchmark-only mode.
QUANT_MODES: dict[str, tuple[QuantConfig, str]] = {
    "int8": (quant_config("int8"), "int8"),
    "fp8": (Fp8Config(), "fp8"),
    "fp8row": (quant_config("fp8-row"), "fp8"),
    "fp8row-fast": (quant_config("fp8-row-fast"), "fp8-fast"),
}


def build_dit(
    cfg: WanDiTConfig, attention: AttentionConfig, device: torch.device, quant: str | None
) -> WanDiT:
    """A random bf16 WanDiT on ``device`` (seed fixed, so every row's weights are the same draws), its block
    linears quantised in ``quant`` mode (a QUANT_MODES name) or left bf16 (None)."""
    if quant is not None and quant not in QUANT_MODES:
        raise ValueError(f"quant must be None or one of {', '.join(QUANT_MODES)} (got {quant!r})")
    with torch.device("meta"):
        model = WanDiT(cfg, attention)
    model = fill_random(model, torch.Generator(device).manual_seed(6), torch.bfloat16)
    if quant is not None:
        quantize_(model, QUANT_MODES[quant][0])
    return model


def build_vae(cfg: WanVAEConfig, device: torch.device) -> WanVAE:
    with torch.device("meta"):
        vae = WanVAE(cfg)
    return fill_random(vae, torch.Generator(device).manual_seed(3), torch.bfloat16)


def param_gib(module: nn.Module) -> float:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values()) / 1024**3


# ---------------------------------------------------------------------------------------------------------
# Stages outside the DiT


def text_stage(
    umt5: UMT5Config, device: torch.device, reps: int, prompt_tokens: int = 24
) -> tuple[Tensor, Tensor, dict]:
    """Encode a prompt of ``prompt_tokens`` random ids with a random umT5, as official Wan does (all text_len
    rows) and as the pipeline does (``trimmed_rows``: the prompt's rows rounded up; the DiT attends to the
    rest as weighted keys). Returns (full context [1, text_len, dim], trimmed context [1, rows, dim], timing
    row: ``s`` the trimmed encode, ``s_full`` the full one)."""
    reset_memory(device)
    with torch.device("meta"):
        encoder = UMT5Encoder(umt5)
    encoder = fill_random(encoder, torch.Generator(device).manual_seed(1), torch.bfloat16)
    g = torch.Generator(device).manual_seed(2)
    ids = torch.randint(0, umt5.vocab_size, (1, umt5.text_len), generator=g, device=device)
    mask = torch.zeros(1, umt5.text_len, dtype=torch.long)
    mask[:, :prompt_tokens] = 1  # the prompt, then padding, as the pipeline tokenises it
    rows = trimmed_rows(mask)
    mask = mask.to(device)

    def encode() -> Tensor:
        return encoder(ids, mask)

    def encode_trimmed() -> Tensor:
        return encoder(ids[:, :rows], mask[:, :rows])

    with torch.no_grad():
        first, context = first_call(encode, device)
        ms = time_calls(encode, reps, device)
        first_trimmed, trimmed = first_call(encode_trimmed, device)
        ms_trimmed = time_calls(encode_trimmed, reps, device)
    return (
        context,
        trimmed,
        {
            "stage": "text",
            "first_call_s": first_trimmed,
            "s": quantiles(ms_trimmed)[0] / 1e3,
            "prompt_tokens": prompt_tokens,
            "rows": rows,
            "s_full": quantiles(ms)[0] / 1e3,
            "first_call_full_s": first,
            "peak_gib": peak_gib(device),
        },
    )


def encode_stage(
    vae_cfg: WanVAEConfig,
    frames: int,
    height: int,
    width: int,
    device: torch.device,
    reps: int,
    chunk_latents: tuple[int, ...] = (1,),
) -> tuple[Tensor, dict]:
    """i2v conditioning y = cat(mask, VAE latent of [image, zeros...]) through pipelines.i2v at each
    latent-frames-per-chunk setting (1 = the official chunking, first); (y, row). The VAE runs as
    TurboPipeline runs it on CUDA: channels-last with fused norms, each encoder stage's repeated frame
    computed once (WanVAE.use_steady_tail). The row is the fastest setting's, with every setting's time,
    peak memory and rel L2 to the first's (chunking may not change y beyond rounding), its TFLOP, and the
    same setting with every frame through every stage (``every_frame_s``, the official code's work). A
    setting that runs out of device memory is None in the per-setting entries; y is the first setting's
    that ran."""
    reset_memory(device)
    vae = build_vae(vae_cfg, device).use_channels_last().enable_fused_ops()
    g = torch.Generator(device).manual_seed(7)
    image = torch.rand(3, height, width, generator=g, device=device) * 2 - 1
    times, errors, added, peaks, first_s, reference = {}, {}, {}, [], None, None
    with torch.no_grad():
        for k in chunk_latents:

            def encode(k: int = k) -> Tensor:
                return image_condition(vae, image, frames, chunk_latents=k)

            setting = time_setting_or_oom(encode, device, reps)
            if setting is None:  # out of device memory: recorded as None
                times[k] = errors[k] = added[k] = None
                continue
            first_s = setting.first_s if first_s is None else first_s
            reference = setting.result if reference is None else reference
            errors[k] = rel_l2(setting.result.float(), reference.float())
            times[k], added[k] = setting.s, setting.added_gib
            peaks.append(setting.peak_gib)
    best = fastest(times)
    every = None
    with torch.no_grad():
        vae.use_steady_tail(False)
        try:  # every frame at once needs ~5x the memory at large chunks (75 GB at 720p, chunk 20)
            every = time_setting(
                lambda: image_condition(vae, image, frames, chunk_latents=best), device, reps
            )
        except torch.OutOfMemoryError:
            reset_memory(device)
        vae.use_steady_tail(True)
    return reference, {
        "stage": "encode",
        "first_call_s": first_s,
        "s": times[best],
        "chunk_latents": best,
        "tflop": encode_tflop(vae_cfg, frames, height, width, best),
        "every_frame_s": None if every is None else every.s,  # None: out of device memory
        "every_frame_tflop": encode_tflop(vae_cfg, frames, height, width, best, steady=False),
        "every_frame_rel_l2": None if every is None else rel_l2(every.result.float(), reference.float()),
        "s_by_chunk_latents": times,
        "rel_l2_by_chunk_latents": errors,
        "added_gib_by_chunk_latents": added,
        "peak_gib": max(peaks) if device.type == "cuda" else None,
    }


def encode_tflop(
    vae_cfg: WanVAEConfig, frames: int, height: int, width: int, chunk_latents: int, steady: bool = True
) -> float:
    """TFLOP of I2V's image encode ([image, frames - 1 zeros] at height x width) as FlopCounterMode counts it
    on a meta-device VAE (as ``decode_tflop``). ``steady``: each encoder stage's repeated frame computed once
    (WanVAE.use_steady_tail, the pipeline's form); False: every frame through every stage."""
    with torch.device("meta"):
        vae = WanVAE(vae_cfg).to(torch.bfloat16).use_steady_tail(steady)
    clip = torch.empty(1, 3, frames, height, width, device="meta", dtype=torch.bfloat16)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        vae.encode(clip, chunk_latents=chunk_latents, steady_from=1)
    return counter.get_total_flops() / 1e12


def decode_tflop(
    vae_cfg: WanVAEConfig, latent_shape: tuple[int, ...], chunk_latents: int, subpixel: bool = True
) -> float:
    """TFLOP of one decode of a latent of ``latent_shape``: its convolutions and matrix products as torch's
    FlopCounterMode counts them, on a meta-device VAE (nothing is allocated or run; elementwise work, a
    small share, is not counted). ``subpixel``: the upsamples in the form the pipeline runs
    (WanVAE.use_subpixel_upsampling), 2.25x fewer multiply-adds than the official form's."""
    with torch.device("meta"):
        vae = WanVAE(vae_cfg).to(torch.bfloat16).use_subpixel_upsampling(subpixel)
    latent = torch.empty(latent_shape, device="meta", dtype=torch.bfloat16)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        vae.decode(latent, chunk_latents=chunk_latents)
    return counter.get_total_flops() / 1e12


def decode_stage(
    vae_cfg: WanVAEConfig,
    latent: Tensor,
    device: torch.device,
    reps: int,
    chunk_latents: tuple[int, ...] = (1,),
    bf16_tflops: float | None = None,
) -> dict:
    """Decode ``latent`` [1, 16, F, h, w] with a random bf16 VAE at each latent-frames-per-chunk setting
    (1 = the official chunking, first), in the official layout ("plain": channels-first, eager norms) and
    in the pipeline's ("fast": channels-last with fused RMSNorm + SiLU and sub-pixel upsampling, as
    TurboPipeline runs on CUDA).
    Returns the timing row of the fastest fast setting, with every setting's time and its output's rel L2
    to the first plain setting's that ran (neither chunking nor layout may change the video beyond
    rounding); a setting that runs out of device memory is None in those entries. With
    the run's measured bf16 matmul ceiling, the row also gets the decode's compute floor: its TFLOP at that
    rate (``decode_tflop``; the decode's memory traffic is a far smaller term) and time / floor."""
    reset_memory(device)
    vae = build_vae(vae_cfg, device)
    times, errors, added, peaks, first_s, reference = {}, {}, {}, [], None, None
    with torch.no_grad():
        for layout in ("plain", "fast"):
            fast = layout == "fast"
            vae.use_channels_last(fast).enable_fused_ops(fast).use_subpixel_upsampling(fast)
            for k in chunk_latents:

                def decode(k: int = k) -> Tensor:
                    return vae.decode(latent, chunk_latents=k)

                key = f"{layout}/{k}"
                setting = None  # the previous setting's video is freed before this one runs
                setting = time_setting_or_oom(decode, device, reps)
                if setting is None:  # out of device memory: recorded as None
                    times[key] = errors[key] = added[key] = None
                    continue
                first_s = setting.first_s if first_s is None else first_s
                reference = setting.result.float() if reference is None else reference
                errors[key] = rel_l2(setting.result.float(), reference)
                times[key], added[key] = setting.s, setting.added_gib
                peaks.append(setting.peak_gib)
    best = fastest(times, "fast/")
    plain_best = fastest(times, "plain/")
    chunk = int(best.split("/")[1])
    row = {
        "stage": "decode",
        "first_call_s": first_s,
        "s": times[best],
        "layout": "channels-last + fused norms + sub-pixel upsampling",
        "chunk_latents": chunk,
        "plain_s": times[plain_best],
        "s_by_layout_chunk_latents": times,
        "rel_l2_by_layout_chunk_latents": errors,
        "added_gib_by_layout_chunk_latents": added,
        "peak_gib": max(peaks) if device.type == "cuda" else None,
        "tflop": decode_tflop(vae_cfg, tuple(latent.shape), chunk),
    }
    if bf16_tflops is not None:
        row["floor_s"] = row["tflop"] / bf16_tflops
        row["x_floor"] = row["s"] / row["floor_s"]
    return row


def cpu_ceilings() -> dict[str, float]:
    """Crude CPU roofs for --quick: fp32 matmul rate for every matmul ceiling, and a large copy's GB/s."""
    a = torch.randn(512, 512)
    ms = statistics.median(time_calls(lambda: a @ a, 5, torch.device("cpu")))
    rate = 2 * 512**3 / ms / 1e9
    src = torch.empty(1 << 25, dtype=torch.uint8)
    dst = torch.empty_like(src)
    cms = statistics.median(time_calls(lambda: dst.copy_(src), 5, torch.device("cpu")))
    return {
        "bf16_tflops": rate,
        "int8_tops": rate,
        "fp8_tflops": rate,
        "fp8_fast_tflops": rate,
        "copy_gbps": 2 * src.numel() / cms / 1e6,
    }
