"""TurboPipeline end to end on the CPU: the built-in model, official-layout folders, offload, bad inputs."""

from __future__ import annotations

import logging

import pytest
import torch

from turbodiffusion.attention import BACKENDS
from turbodiffusion.attention.registry import BackendSpec
from turbodiffusion.attention.sdpa import SDPAAttention
from turbodiffusion.models.wan import TextContextCache
from turbodiffusion.pipelines import ComponentConfigs, TurboPipeline
from turbodiffusion.pipelines import pipeline as pipeline_module
from turbodiffusion.pipelines.builtin import random_state_dict
from turbodiffusion.pipelines.denoise import SamplingPlan
from turbodiffusion.pipelines.pipeline import check_request, frames_to_host, vae_chunk_latents
from turbodiffusion.pipelines.presets import PRESETS

from .layouts import TINY_CONFIGS, TINY_I2V, write_wan21_t2v, write_wan22_i2v

SMALL = dict(num_frames=5, height=48, width=64, progress=False)  # 2 latent frames, 6 x 8 latent cells


def conditioning_image() -> torch.Tensor:
    """The I2V tests' image: uint8 [40, 90, 3], random (seed 4), cropped and resized by the pipeline."""
    return (torch.rand(40, 90, 3, generator=torch.Generator().manual_seed(4)) * 255).to(torch.uint8)


@pytest.fixture(scope="module")
def builtin():
    return TurboPipeline.from_pretrained("builtin-random", device="cpu")


@pytest.fixture(scope="module")
def t2v_folder(tmp_path_factory):
    return write_wan21_t2v(tmp_path_factory.mktemp("wan21_t2v"))


@pytest.fixture(scope="module")
def i2v_folder(tmp_path_factory):
    return write_wan22_i2v(tmp_path_factory.mktemp("wan22_i2v"))


# Residency events of one generation under model offload: each network on the device only while it runs.
EVERY_NETWORK_PARKED_AFTER_USE = [
    ("text_encoder", "device"),
    ("text_encoder", "park"),
    ("dit", "device"),
    ("dit", "park"),
    ("vae", "device"),
    ("vae", "park"),
]


def test_builtin_output_and_determinism(builtin, caplog):
    a = builtin("a red circle moving right", seed=7, **SMALL)
    b = builtin("a red circle moving right", seed=7, **SMALL)
    c = builtin("a red circle moving right", seed=8, **SMALL)
    assert a.frames.shape == (5, 48, 64, 3) and a.frames.dtype == torch.uint8
    assert a.frames.device.type == "cpu" and a.fps == 16
    assert torch.equal(a.frames, b.frames)
    assert not torch.equal(a.frames, c.frames)
    assert a.frames.float().std() > 1  # not a constant image
    s = a.settings
    assert (s.model, s.task, s.steps, s.seed, s.sampler, s.sigma_max, s.attention) == (
        "builtin-random", "t2v", 4, 7, "rcm", 80.0, "sdpa"
    )  # fmt: skip
    assert len(a.timings.steps) == 4 and a.timings.image_encoding is None
    assert a.timings.total >= a.timings.decode > 0
    assert "steps" in a.timings.summary() and "decode" in a.timings.summary()


def test_random_weights_cast_as_drawn_equal_the_float32_draw_cast():
    # The cast happens per tensor (a 14B DiT's float32 draw must not sit beside its bf16 copy); the values
    # must be those of the float32 draw, so a bf16 model is the same whether drawn in either order.
    model = TurboPipeline.from_pretrained("builtin-random", device="cpu").components.dits[0]
    full = random_state_dict(model, torch.Generator().manual_seed(5))
    half = random_state_dict(model, torch.Generator().manual_seed(5), dtype=torch.bfloat16)
    assert list(half) == list(full) == sorted(model.state_dict())
    assert all(v.dtype == torch.float32 for v in full.values())
    assert all(
        v.dtype == torch.bfloat16 and torch.equal(v, full[k].to(torch.bfloat16)) for k, v in half.items()
    )
    assert any(not torch.equal(v.float(), full[k]) for k, v in half.items())  # bf16 really rounded


def test_builtin_warns_that_weights_are_random(caplog):
    with caplog.at_level("WARNING"):
        TurboPipeline.from_pretrained("builtin-random", device="cpu")
    assert any("RANDOM weights" in r.getMessage() for r in caplog.records)


def test_prompt_changes_the_video(builtin):
    a = builtin("a red circle", seed=1, **SMALL)
    b = builtin("a blue square", seed=1, **SMALL)
    assert not torch.equal(a.frames, b.frames)


def test_steps_and_ode(builtin):
    one = builtin("x", steps=1, **SMALL)
    assert len(one.timings.steps) == 1
    a = builtin("x", ode=True, seed=1, **SMALL)
    b = builtin("x", ode=True, seed=1, **SMALL)
    assert torch.equal(a.frames, b.frames) and a.settings.ode


def test_baseline_sampler_encodes_the_negative_prompt(builtin):
    seen = []
    handle = builtin.components.text_encoder.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].shape)
    )
    try:
        out = builtin("x", sampler="unipc", steps=2, guidance=3.0, **SMALL)
    finally:
        handle.remove()
    assert seen == [torch.Size([2, 32])]  # prompt and negative prompt in one batch
    assert (out.settings.sampler, out.settings.guidance, out.settings.sigma_max) == ("unipc", 3.0, None)
    assert len(out.timings.steps) == 2


def test_text_encoder_leaves_the_device_and_offload_parks_all():
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cpu", offload=False)
    assert pipe("x", **SMALL).settings.offload is None
    assert pipe.residency.events[:2] == [("text_encoder", "device"), ("text_encoder", "park")]
    assert sorted(pipe.residency.on_device()) == ["dit", "vae"]
    off = TurboPipeline.from_pretrained("builtin-random", device="cpu", offload=True)
    assert off("x", **SMALL).settings.offload == "model"  # True is the "model" mode, recorded by name
    assert off.residency.on_device() == [] and off.block_offloads == {}
    assert off.residency.events == EVERY_NETWORK_PARKED_AFTER_USE


def test_block_offload_generates_the_same_frames(builtin):
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cpu", offload="blocks")
    streamed = pipe("a red circle", seed=5, **SMALL)
    assert torch.equal(streamed.frames, builtin("a red circle", seed=5, **SMALL).frames)
    assert streamed.settings.offload == "blocks"
    # Component offload as "model" does it; the DiT entry moves only its trunk, the blocks stream.
    assert pipe.residency.on_device() == []
    assert pipe.residency.events == EVERY_NETWORK_PARKED_AFTER_USE
    offload = pipe.block_offloads["dit"]
    assert offload.model is pipe.components.dits[0] and not offload.active
    blocks = pipe.components.dits[0].config.num_layers
    assert [j for j, where in offload.events if where == "device"] == list(range(blocks))
    assert offload.resident() == []


@pytest.mark.gpu
def test_block_offload_on_cuda_generates_the_same_frames():
    resident = TurboPipeline.from_pretrained("builtin-random", device="cuda")
    want = resident("a red circle", seed=5, **SMALL).frames
    del resident
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cuda", offload="blocks")
    assert torch.equal(pipe("a red circle", seed=5, **SMALL).frames, want)
    blocks = pipe.components.dits[0].blocks
    assert all(p.device.type == "cpu" and p.is_pinned() for p in blocks.parameters())


@pytest.mark.parametrize("offload", ["block", "Model", None, 1, "none"])
def test_bad_offload_is_refused_before_loading(offload, monkeypatch):
    loads = []
    monkeypatch.setattr(pipeline_module, "load_components", lambda *a, **k: loads.append(a))
    with pytest.raises(ValueError, match=r'offload must be False, True, "model" or "blocks" \(got '):
        TurboPipeline.from_pretrained("builtin-random", device="cpu", offload=offload)
    assert loads == []


class _Loaded(Exception):
    """Stops from_pretrained once it has asked for its components."""


@pytest.mark.parametrize(
    ("model", "device", "offload", "resident"),
    [
        ("builtin-random", "cuda", False, True),
        ("builtin-random", "cuda", "model", False),
        ("builtin-random", "cuda", "blocks", False),
        ("builtin-random", "cpu", False, False),
        ("wan2.2-i2v-a14b", "cuda", False, True),  # the loader then checks that both experts fit
    ],
)
def test_quantised_dit_stays_on_the_device_only_where_the_pipeline_keeps_it(
    model, device, offload, resident, monkeypatch
):
    asked = []

    def load_components(*args, **kwargs):
        asked.append(kwargs["resident"])
        raise _Loaded

    monkeypatch.setattr(pipeline_module, "load_components", load_components)
    with pytest.raises(_Loaded):
        TurboPipeline.from_pretrained(model, device=device, offload=offload, checkpoint_dir="unused")
    assert asked == [resident]


def test_experts_stay_on_the_device_as_the_pipeline_places_them():
    from turbodiffusion.pipelines.components import experts_stay
    from turbodiffusion.pipelines.residency import expert_group, module_bytes

    expert, vae = torch.nn.Linear(100, 100), torch.nn.Linear(10, 10)  # 40,400 and 440 bytes
    both = 2 * module_bytes(expert) + module_bytes(vae)
    for device_bytes in (0, both, 2 * both - 1, 2 * both, 10**9):
        fits = expert_group(both, device_bytes) is None
        assert experts_stay(expert, 2, vae, device_bytes) == fits == (device_bytes >= 2 * both)
        assert experts_stay(expert, 1, vae, device_bytes)


def test_a_resident_dit_that_does_not_fit_is_quantised_back_to_the_cpu(monkeypatch, caplog):
    """Out of device memory while quantising onto the GPU: the DiT goes back to the CPU and its remaining
    layers take the round trip (recorded calls and moves here: no GPU)."""
    from turbodiffusion import quant
    from turbodiffusion.pipelines.components import _Quantise

    calls, moves = [], []

    def quantize_(model, config, **kw):
        calls.append(kw)
        if kw.get("to_device"):
            raise torch.OutOfMemoryError("CUDA out of memory")

    dit = torch.nn.Linear(2, 2)
    monkeypatch.setattr(quant, "quantize_", quantize_)
    monkeypatch.setattr(dit, "to", lambda d: moves.append(d) or dit)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    with caplog.at_level(logging.WARNING):
        _Quantise(torch.device("cuda"), True)(dit, "int8")
    cuda = torch.device("cuda")
    assert calls == [{"device": cuda, "to_device": True}, {"device": cuda}] and moves == ["cpu"]
    assert "does not fit" in caplog.text


@pytest.mark.gpu
def test_quantised_dit_loaded_onto_the_gpu_generates_what_one_moved_there_does():
    """The DiT quantised at load stays on the GPU and gives the frames of the one quantised there and
    brought back (offload="model": parked between uses)."""
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cuda", quant="int8")
    assert all(t.is_cuda for t in pipe.components.dits[0].state_dict().values())
    want = pipe("a red circle", seed=5, **SMALL).frames
    del pipe
    parked = TurboPipeline.from_pretrained("builtin-random", device="cuda", quant="int8", offload="model")
    assert not any(t.is_cuda for t in parked.components.dits[0].state_dict().values())
    assert torch.equal(parked("a red circle", seed=5, **SMALL).frames, want)


@pytest.mark.parametrize(
    ("device", "resident", "want"),
    [
        ("cuda", True, {"device": torch.device("cuda"), "to_device": True}),
        ("cuda", False, {"device": torch.device("cuda")}),
        ("cpu", True, {"device": None}),
    ],
)
def test_load_time_quantisation_is_left_on_a_gpu_only_when_resident(device, resident, want, monkeypatch):
    from turbodiffusion import quant
    from turbodiffusion.pipelines.components import _Quantise

    calls = []
    monkeypatch.setattr(quant, "quantize_", lambda model, config, **kw: calls.append(kw))
    _Quantise(torch.device(device), resident)(torch.nn.Linear(2, 2), "fp8-row")
    assert calls == [want]


def test_fused_fast_paths_are_on_for_cuda_only_and_change_frames_by_rounding(builtin):
    """fused=None turns the fast paths on for CUDA only; fused=True on the CPU runs their fp32 references,
    so its frames are the plain ones up to bf16 rounding (a few uint8 levels), never a different video."""
    dit, vae = builtin.components.dits[0], builtin.components.vae
    assert not any(getattr(m, "fused_ops", False) for m in dit.modules())
    assert vae.channels_last and not any(getattr(m, "fused", False) for m in vae.modules())
    upsamples = [m for m in vae.modules() if type(m).__name__ == "UpsampleConv2d"]
    assert upsamples and all(m.subpixel for m in upsamples), "the VAE upsamples in the sub-pixel form"
    fused = TurboPipeline.from_pretrained("builtin-random", device="cpu", fused=True)
    fdit, fvae = fused.components.dits[0], fused.components.vae
    assert any(getattr(m, "fused_ops", False) for m in fdit.modules())
    assert fvae.channels_last and all(m.fused for m in fvae.modules() if type(m).__name__ == "RMSNorm")
    plain, fast = (
        builtin("a red circle moving right", seed=3, **SMALL),
        fused("a red circle moving right", seed=3, **SMALL),
    )
    diff = (plain.frames.float() - fast.frames.float()).abs()
    assert 0 < diff.max() <= 32 and diff.mean() < 2.0, (
        f"mean {diff.mean():.2f}, max {diff.max():.0f} uint8 levels"
    )


@pytest.mark.gpu
def test_fused_fast_paths_default_on_cuda():
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cuda")
    assert pipe.components.vae.channels_last
    assert any(getattr(m, "fused_ops", False) for m in pipe.components.dits[0].modules())
    assert pipe("x", **SMALL).frames.shape == (5, 48, 64, 3)
    # A small model on a GPU: the text encoder stays resident between calls.
    assert ("text_encoder", "park") not in pipe.residency.events


@pytest.mark.parametrize(
    ("latents", "free_gib", "chunk"),
    [(21, 100, 20), (21, 3, 1), (21, 0, 1), (1, 100, 1), (21, 12, 4), (21, 8, 2), (21, 6, 1)],
)
def test_vae_chunk_latents_fits_free_memory(latents, free_gib, chunk):
    # 480x832 (399,360 px): 4.57 GiB at one latent frame a chunk and 1.52 GiB more for each further one
    # must fit in 80% of the free memory. At 6 GiB free only the official chunking fits (a rule without the
    # first term chose 3 there, which the H200's decode measurements put at 6.7 GiB).
    assert vae_chunk_latents(latents, 480, 832, int(free_gib * 2**30)) == chunk


@pytest.mark.parametrize("subpixel", [True, False])
@pytest.mark.parametrize("op", ["encode", "encode-i2v", "decode"])
def test_vae_chunk_rule_covers_the_counted_peaks(op, subpixel):
    """The chunk rule's bytes a pixel bound the Wan2.1 VAE's peaks as counted on the meta device (the
    activations its ops keep alive) at every chunking of a small clip, upsampling in either form: the
    counts scale with the pixels. "encode-i2v" is I2V's encode with its zero frames as a steady tail: the
    kept frames add to the smallest chunks' peak, and the larger chunks compute few frames (no lower bound
    there)."""
    from turbodiffusion.models.wan.vae import WAN21_VAE, WanVAE
    from turbodiffusion.pipelines.pipeline import VAE_BASE_BYTES_PER_PIXEL, VAE_BYTES_PER_LATENT_PIXEL
    from turbodiffusion.testing.live_bytes import PeakLiveBytes

    height, width, latents = 64, 96, 5
    with torch.device("meta"):
        vae = WanVAE(WAN21_VAE).to(torch.bfloat16).use_channels_last().use_subpixel_upsampling(subpixel)
        clip = torch.empty(1, 3, 1 + 4 * (latents - 1), height, width)
        latent = torch.empty(1, WAN21_VAE.z_dim, latents, height // 8, width // 8)
    for chunk in range(1, latents):
        with torch.no_grad(), PeakLiveBytes() as count:
            if op == "decode":
                vae.decode(latent, chunk_latents=chunk)
            else:
                vae.encode(clip, chunk_latents=chunk, steady_from=1 if op == "encode-i2v" else None)
        bound = (VAE_BASE_BYTES_PER_PIXEL + VAE_BYTES_PER_LATENT_PIXEL * (chunk - 1)) * height * width
        lower = 0 if op == "encode-i2v" else 0.5 * bound
        assert lower < count.peak <= bound, (chunk, count.peak, bound)


@pytest.mark.parametrize(
    ("quant", "mode", "layer"),
    [
        (True, "int8", "Int8Linear"),
        ("fp8-row", "fp8-row", "Fp8RowLinear"),
        ("fp8-row-fast", "fp8-row-fast", "Fp8RowLinear"),
    ],
)
def test_quantised_builtin_runs(quant, mode, layer):
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cpu", quant=quant)
    out = pipe("x", **SMALL)
    assert out.settings.quant == mode and out.frames.shape == (5, 48, 64, 3)
    modules = list(pipe.components.dits[0].blocks.modules())
    kinds = {type(m).__name__ for m in modules}
    assert layer in kinds and "Linear" not in kinds - {layer}, kinds
    # Only the fast mode lets the FP8 GEMM skip its fp32 promotion.
    fast = {m.fast_accum for m in modules if type(m).__name__ == "Fp8RowLinear"}
    assert fast == ({mode == "fp8-row-fast"} if layer == "Fp8RowLinear" else set())


@pytest.mark.parametrize("mode", ["fp8-row", "fp8-row-fast"])
def test_fp8_modes_are_refused_on_a_gpu_without_fp8(monkeypatch, mode):
    from turbodiffusion.pipelines.components import resolve_quant

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: (8, 0))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device: "NVIDIA A100-SXM4-80GB")
    preset, gpu = PRESETS["turbowan2.1-t2v-1.3b-480p"], torch.device("cuda")
    with pytest.raises(ValueError, match=f'quant="{mode}" needs FP8 tensor cores.*A100.*use quant="int8"'):
        resolve_quant(mode, preset, gpu)
    assert resolve_quant("int8", preset, gpu) == "int8"


def test_quant_modes_resolve_per_preset():
    from turbodiffusion.pipelines.components import prefers_quant_files, resolve_quant

    cpu, quant_preset, float_preset = (
        torch.device("cpu"),
        PRESETS["turbowan2.1-t2v-1.3b-480p-quant"],
        PRESETS["turbowan2.1-t2v-1.3b-480p"],
    )
    assert resolve_quant(None, quant_preset, cpu) == "int8" and resolve_quant(None, float_preset, cpu) is None
    assert (
        resolve_quant(True, float_preset, cpu) == "int8" and resolve_quant(False, float_preset, cpu) is None
    )
    # INT8 files convert to FP8 row-wise (re-quantised); float files stay the twin FP8 prefers.
    assert resolve_quant("fp8-row", quant_preset, cpu) == "fp8-row"
    assert resolve_quant("fp8-row-fast", quant_preset, cpu) == "fp8-row-fast"
    assert [prefers_quant_files(q) for q in (None, True, "int8", False, "fp8-row", "fp8-row-fast")] == [
        None,
        True,
        True,
        False,
        False,
        False,
    ]
    with pytest.raises(
        ValueError, match="quant must be True/False/None or one of int8, fp8-row, fp8-row-fast"
    ):
        TurboPipeline.from_pretrained("builtin-random", device="cpu", quant="int4")


def test_official_t2v_layout(t2v_folder, caplog):
    pipe = TurboPipeline.from_pretrained(t2v_folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32)
    assert pipe.preset.name == "wan2.1-t2v-1.3b"
    dit = pipe.components.dits[0]
    assert dit.config.dim == 64 and dit.patch_embedding.weight.shape == (64, 64)  # Conv3d file -> Linear
    a = pipe("a red circle", seed=3, **SMALL)
    b = pipe("a red circle", seed=3, **SMALL)
    assert torch.equal(a.frames, b.frames)
    assert a.settings.dtype == "float32"
    # rCM on the undistilled Wan model is a degraded path: one WARNING per pipeline, not per call.
    assert sum("not rCM-distilled" in r.getMessage() for r in caplog.records) == 1
    # The same folder, named by preset instead of recognised.
    again = TurboPipeline.from_pretrained(
        "wan2.1-t2v-1.3b", checkpoint_dir=t2v_folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32
    )
    assert torch.equal(again("a red circle", seed=3, **SMALL).frames, a.frames)


def test_vae_chunking_follows_free_gpu_memory(monkeypatch):
    """On CUDA without offload the encoder and decoder calls take as many latent frames as the free memory
    holds (the driver's free memory plus what torch's cache holds unused, less the CUDA graphs' pool)."""
    from types import SimpleNamespace

    gib = 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (4 * gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device: 20 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 6 * gib)
    cuda, graphs = torch.device("cuda"), SimpleNamespace(pool_bytes=2 * gib)
    chunk = TurboPipeline._vae_chunk_latents
    # 4 GiB free + 14 GiB cached unused (less the graphs' 2) = 16 GiB
    assert chunk(SimpleNamespace(device=cuda, offload=None, graphs=graphs), 21, 480, 832) == 6
    assert chunk(
        SimpleNamespace(device=cuda, offload=None, graphs=graphs), 21, 480, 832
    ) == vae_chunk_latents(21, 480, 832, 16 * gib)
    assert chunk(SimpleNamespace(device=cuda, offload=None, graphs=None), 21, 480, 832) == vae_chunk_latents(
        21, 480, 832, 18 * gib
    )
    assert chunk(SimpleNamespace(device=cuda, offload="model", graphs=None), 21, 480, 832) == 1
    assert chunk(SimpleNamespace(device=torch.device("cpu"), offload=None, graphs=None), 21, 480, 832) == 1


def test_i2v_encodes_and_decodes_in_the_chosen_chunks(i2v_folder, monkeypatch):
    pipe = TurboPipeline.from_pretrained(i2v_folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32)
    vae = pipe.components.vae
    image = conditioning_image()
    request = dict(SMALL, num_frames=13)  # 4 latent frames
    official = pipe("a cat", image, seed=5, **request)
    seen = []
    for name in ("encode", "decode"):
        method = getattr(vae, name)

        def spy(*args, method=method, name=name, **kwargs):
            seen.append((name, kwargs["chunk_latents"]))
            return method(*args, **kwargs)

        monkeypatch.setattr(vae, name, spy)
    monkeypatch.setattr(TurboPipeline, "_vae_chunk_latents", lambda self, latents, h, w: latents - 1)
    chunked = pipe("a cat", image, seed=5, **request)
    assert seen == [("encode", 3), ("decode", 3)]
    # The same video: chunking changes only the fp32 convolutions' summation order (tests/models/test_vae.py),
    # so a frame value can at most round to the neighbouring level.
    assert (chunked.frames.int() - official.frames.int()).abs().max() <= 1


@pytest.mark.parametrize("offload", [False, True, "blocks"])
def test_official_i2v_layout_switches_experts_with_one_resident(i2v_folder, offload):
    pipe = TurboPipeline.from_pretrained(
        i2v_folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32, offload=offload
    )
    assert pipe.preset.name == "wan2.2-i2v-a14b" and pipe.experts == ("dit.high", "dit.low")
    calls = []

    def spy(name):
        def hook(module, args):
            x, tau, context, y = args
            calls.append((name, sorted(pipe.residency.on_device()), tau.item(), y, context))

        return hook

    handles = [d.register_forward_pre_hook(spy(n)) for n, d in zip(pipe.experts, pipe.components.dits)]
    embeddings = {n: [] for n in pipe.experts}
    handles += [
        d.text_embedding.register_forward_pre_hook(lambda m, a, n=n: embeddings[n].append(1))
        for n, d in zip(pipe.experts, pipe.components.dits)
    ]
    image = conditioning_image()
    try:
        out = pipe("a cat on the beach", image, seed=5, **SMALL)
    finally:
        for h in handles:
            h.remove()
    assert [c[0] for c in calls] == ["dit.high", "dit.high", "dit.low", "dit.low"]
    assert [c[2] for c in calls] == [996.0, 932.0, 852.0, 608.0]  # sigma_max 200, bf16-rounded
    # Each expert reads one TextContextCache of the prompt: the text is embedded once per expert.
    caches = [c[4] for c in calls]
    assert all(isinstance(c, TextContextCache) for c in caches)
    assert caches[0] is caches[1] and caches[2] is caches[3] and caches[1] is not caches[2]
    assert caches[0].context is caches[2].context
    assert embeddings == {"dit.high": [1], "dit.low": [1]}
    for name, resident, _, y, _ in calls:
        assert name in resident and not ({"dit.high", "dit.low"} - {name}) & set(resident)
        assert y.shape == (1, TINY_I2V.in_dim - 16, 2, 6, 8)
        assert y[:, :4, 0].eq(1).all() and not y[:, :4, 1:].any()
    assert out.timings.image_encoding is not None and out.settings.image
    assert "text_encoder" not in pipe.residency.on_device()
    if offload:
        assert pipe.residency.on_device() == []
    if offload == "blocks":  # each expert streamed its own blocks; its trunk left with the expert
        assert sorted(pipe.block_offloads) == ["dit.high", "dit.low"]
        assert all(not o.active and o.events and o.resident() == [] for o in pipe.block_offloads.values())


def test_i2v_experts_both_stay_when_they_fit(i2v_folder, monkeypatch):
    """With room for both experts (expert_group gives no group) neither is parked: after the first call
    both are on the device, and a second call (another prompt) moves only the text encoder."""
    from turbodiffusion.pipelines import pipeline as pipeline_module
    from turbodiffusion.pipelines.residency import module_bytes

    sizes = []

    def no_group(weight_bytes, device_bytes):
        sizes.append(weight_bytes)
        return None

    monkeypatch.setattr(pipeline_module, "expert_group", no_group)
    pipe = TurboPipeline.from_pretrained(i2v_folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32)
    c = pipe.components
    assert sizes == [module_bytes(c.vae, *c.dits)]  # the experts and the VAE, not the text encoder
    image = conditioning_image()
    first = pipe("a cat", image, seed=5, **SMALL)
    assert sorted(pipe.residency.on_device()) == ["dit.high", "dit.low", "vae"]
    moves = len(pipe.residency.events)
    second = pipe("a dog", image, seed=5, **SMALL)
    # Only the text encoder (parked after each prompt on the CPU) moves.
    assert pipe.residency.events[moves:] == [("text_encoder", "device"), ("text_encoder", "park")]
    assert sorted(pipe.residency.on_device()) == ["dit.high", "dit.low", "vae"]
    assert not torch.equal(first.frames, second.frames)


@pytest.mark.gpu
@pytest.mark.parametrize("fit", [True, False])
def test_quantised_experts_stay_on_the_gpu_from_loading_only_when_both_fit(i2v_folder, monkeypatch, fit):
    from turbodiffusion.pipelines import components

    monkeypatch.setattr(components, "experts_stay", lambda *args: fit)
    pipe = TurboPipeline.from_pretrained(i2v_folder, device="cuda", configs=TINY_CONFIGS, quant="fp8-row")
    where = {t.device.type for d in pipe.components.dits for t in d.state_dict().values()}
    assert where == ({"cuda"} if fit else {"cpu"})
    assert pipe("a cat", conditioning_image(), seed=5, **SMALL).frames.shape == (5, 48, 64, 3)


def test_a_repeated_prompt_is_not_encoded_again():
    """The second call with the same prompt takes its context from the pipeline's PromptCache: the text
    encoder does not move or run, and the video is the one a fresh pipeline makes."""
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cpu")
    calls = []
    pipe.components.text_encoder.register_forward_pre_hook(lambda module, args: calls.append(1))
    first = pipe("a red circle", seed=1, **SMALL)
    moves = len(pipe.residency.events)
    second = pipe("a red circle", seed=2, **SMALL)
    assert len(calls) == 1 and pipe.residency.events[moves:] == []
    fresh = TurboPipeline.from_pretrained("builtin-random", device="cpu")("a red circle", seed=2, **SMALL)
    assert torch.equal(second.frames, fresh.frames) and not torch.equal(first.frames, second.frames)
    pipe("a blue square", seed=2, **SMALL)  # a new prompt is encoded
    assert len(calls) == 2 and len(pipe.prompt_cache) == 2


def test_i2v_needs_an_image_before_any_work(i2v_folder):
    pipe = TurboPipeline.from_pretrained(i2v_folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32)
    with pytest.raises(ValueError, match="is image-to-video and needs an image"):
        pipe("a cat", **SMALL)
    assert pipe.residency.events == []


def plan(**kw) -> SamplingPlan:
    base = dict(sampler="rcm", steps=4, seed=0, sigma_max=80.0, ode=False, shift=5.0, guidance=5.0)
    return SamplingPlan(**{**base, **kw})


T2V, I2V = PRESETS["builtin-random"], PRESETS["wan2.2-i2v-a14b"]


@pytest.mark.parametrize(
    ("preset", "prompt", "image", "size", "p", "match"),
    [
        (T2V, "", None, (5, 48, 64), plan(), "prompt must be a non-empty string"),
        (T2V, 3, None, (5, 48, 64), plan(), "prompt must be a non-empty string"),
        (I2V, "x", None, (5, 48, 64), plan(), "needs an image: pass image=PATH"),
        (T2V, "x", "img.png", (5, 48, 64), plan(), "is text-to-video and takes no image"),
        (T2V, "x", None, (80, 48, 64), plan(), r"num_frames must be 4k\+1 \(got 80\); use 77 or 81"),
        (T2V, "x", None, (5, 50, 64), plan(), r"height must be a multiple of 16 \(got 50\); use 48 or 64"),
        (T2V, "x", None, (5, 48, 70), plan(), r"width must be a multiple of 16 \(got 70\); use 64 or 80"),
        (T2V, "x", None, (5, 48, 64), plan(sampler="ddim"), "sampler must be one of rcm, unipc, euler"),
        (T2V, "x", None, (5, 48, 64), plan(steps=2.0), "steps must be an int"),
        (T2V, "x", None, (5, 48, 64), plan(steps=0), r"steps must be 1 to 4 for the rCM sampler \(got 0\)"),
        (T2V, "x", None, (5, 48, 64), plan(steps=5), r"steps must be 1 to 4 .* sampler='unipc'"),
        (T2V, "x", None, (5, 48, 64), plan(sampler="unipc", steps=0), "steps must be at least 1"),
        (T2V, "x", None, (5, 48, 64), plan(seed=-1), r"seed must be an int in \[0, 2\^63\)"),
        (T2V, "x", None, (5, 48, 64), plan(seed=True), "seed must be an int"),
        (T2V, "x", None, (5, 48, 64), plan(sigma_max=0.0), "sigma_max must be positive"),
        (T2V, "x", None, (5, 48, 64), plan(shift=0.0), "shift must be positive"),
        (T2V, "x", None, (5, 48, 64), plan(guidance=-1.0), "guidance must be >= 0"),
    ],
)
def test_check_request_rejects(preset, prompt, image, size, p, match):
    with pytest.raises(ValueError, match=match):
        check_request(preset, prompt, image, *size, p)


def test_check_request_accepts_good_input():
    check_request(T2V, "x", None, 5, 48, 64, plan())
    check_request(I2V, "x", "img.png", 81, 720, 1280, plan(steps=1))


def test_call_validates_before_work(builtin):
    before = list(builtin.residency.events)
    with pytest.raises(ValueError, match="steps must be 1 to 4"):
        builtin("x", steps=8, **SMALL)
    with pytest.raises(ValueError, match=r"num_frames must be 4k\+1"):
        builtin("x", num_frames=6, height=48, width=64)
    assert builtin.residency.events == before


def test_unknown_model_and_conflicting_folder(tmp_path, t2v_folder):
    with pytest.raises(ValueError, match="preset name or an existing checkpoint folder"):
        TurboPipeline.from_pretrained("wan-1.3b")
    with pytest.raises(ValueError, match="and a different checkpoint_dir"):
        TurboPipeline.from_pretrained(t2v_folder, checkpoint_dir=tmp_path)


def test_missing_files_name_the_download_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="turbodiffusion download turbowan2.1-t2v-1.3b-480p --dir"):
        TurboPipeline.from_pretrained("turbowan2.1-t2v-1.3b-480p", checkpoint_dir=tmp_path, attention="sla")


def test_attention_choices_checked_before_loading(monkeypatch, tmp_path):
    with pytest.raises(
        ValueError, match="unknown attention backend 'flash'; use one of sdpa, sla, sage, sagesla"
    ):
        TurboPipeline.from_pretrained("builtin-random", attention="flash", device="cpu")
    with pytest.raises(ValueError, match='sla_topk applies to "sla" and "sagesla" only'):
        TurboPipeline.from_pretrained("builtin-random", attention="sdpa", sla_topk=0.2, device="cpu")
    monkeypatch.delitem(BACKENDS, "sage", raising=False)
    with pytest.raises(ValueError, match='attention "sage" is not available in this build; use sdpa'):
        TurboPipeline.from_pretrained("builtin-random", attention="sage", device="cpu")
    cannot = BackendSpec("sage", lambda cfg, d: SDPAAttention(), lambda dev, dt, d: "needs a CUDA GPU", False)
    monkeypatch.setitem(BACKENDS, "sage", cannot)
    with pytest.raises(ValueError, match='attention "sage" cannot run here: needs a CUDA GPU; use sdpa'):
        TurboPipeline.from_pretrained("builtin-random", attention="sage", device="cpu")


def test_turbowan_needs_an_sla_backend(tmp_path):
    for name in ("TurboWan2.1-T2V-1.3B-480P.pth", "Wan2.1_VAE.pth", "models_t5_umt5-xxl-enc-bf16.pth"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "google/umt5-xxl").mkdir(parents=True)
    (tmp_path / "google/umt5-xxl/tokenizer.json").write_text("{}")
    with pytest.raises(
        ValueError, match='holds SLA weights \\(proj_l\\), so attention must be "sla" or "sagesla"'
    ):
        TurboPipeline.from_pretrained("turbowan2.1-t2v-1.3b-480p", checkpoint_dir=tmp_path, attention="sdpa")


def test_quant_and_dtype_choices():
    with pytest.raises(ValueError, match="holds W8A8 int8 weights, so quant cannot be off"):
        TurboPipeline.from_pretrained("turbowan2.1-t2v-1.3b-480p-quant", quant=False)
    with pytest.raises(ValueError, match="umT5 overflows float16, use bfloat16"):
        TurboPipeline.from_pretrained(dtype=torch.float16)
    with pytest.raises(ValueError, match="dtype must be one of bfloat16, float32"):
        TurboPipeline.from_pretrained(dtype="half")


def test_config_model_type_must_match_the_task(t2v_folder):
    with pytest.raises(ValueError, match="is a t2v preset but its DiT config has model_type='i2v'"):
        TurboPipeline.from_pretrained(t2v_folder, configs=ComponentConfigs(dit=TINY_I2V, vae=None, umt5=None))


def test_frames_to_host_maps_the_decoder_range_to_uint8():
    video = torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.2, 1.0, 2.0]).view(1, 1, 7, 1, 1).expand(1, 3, 7, 1, 2)
    frames = frames_to_host(video.to(torch.bfloat16))
    assert frames.shape == (7, 1, 2, 3) and frames.dtype == torch.uint8 and frames.device.type == "cpu"
    assert frames[:, 0, 0, 0].tolist() == [0, 0, 64, 128, 153, 255, 255]  # round((x + 1) * 127.5), clamped


@pytest.mark.gpu
def test_frames_to_host_from_cuda_equals_the_cpu_path():
    g = torch.Generator().manual_seed(0)
    video = (torch.randn(1, 3, 9, 16, 24, generator=g) * 0.7).to(torch.bfloat16)
    want = frames_to_host(video)
    got = frames_to_host(video.cuda())
    assert got.device.type == "cpu" and got.is_pinned() and got.is_contiguous() and torch.equal(got, want)


DEGRADED = "turbodiffusion.attention.degraded"


def degraded_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == DEGRADED]


def test_a_pipeline_warns_once_for_its_model_not_per_layer(caplog):
    caplog.set_level(logging.WARNING, logger=DEGRADED)
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cpu", attention="sla")
    pipe("a red circle moving right", seed=0, **SMALL)
    layers = pipe.components.dits[0].config.num_layers
    assert degraded_warnings(caplog) == [
        f"SLA on cpu runs the plain-PyTorch reference, not the Triton kernels ({layers} attention layers)"
    ]


@pytest.mark.gpu
def test_a_pipeline_on_a_gpu_warns_only_when_it_lacks_fp8(caplog):
    from turbodiffusion.kernel_device import has_fp8

    caplog.set_level(logging.WARNING, logger=DEGRADED)
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cuda", attention="sagesla")
    pipe("a red circle moving right", seed=0, **SMALL)
    layers = pipe.components.dits[0].config.num_layers
    expected = [] if has_fp8(torch.device("cuda")) else [
        f"SageSLAAttention: this GPU has no FP8 products; P.V runs in 16 bits (SageAttention1 style) "
        f"({layers} attention layers)"
    ]  # fmt: skip
    assert degraded_warnings(caplog) == expected


def test_the_dit_gets_the_context_trimmed_to_the_prompt(t2v_folder, monkeypatch):
    """The pipeline encodes and passes only the prompt's rows (rounded up to CONTEXT_ROWS_MULTIPLE, here 4 of
    the tiny model's 16): the DiT attends to the rest as padding, so the video is the untrimmed one's up to
    rounding."""
    from turbodiffusion.pipelines import text

    def video(multiple: int) -> tuple[torch.Tensor, list[int]]:
        monkeypatch.setattr(text, "CONTEXT_ROWS_MULTIPLE", multiple)
        pipe = TurboPipeline.from_pretrained(
            t2v_folder, device="cpu", configs=TINY_CONFIGS, dtype=torch.float32
        )
        rows = []
        pipe.components.dits[0].register_forward_pre_hook(
            lambda _m, args: rows.append(args[2].context.shape[1])
        )
        return pipe("a red circle", seed=3, **SMALL).frames, rows

    trimmed, trimmed_rows = video(4)  # "a red circle" + EOS: 4 tokens
    full, full_rows = video(16)
    assert set(trimmed_rows) == {4} and set(full_rows) == {16}
    assert (trimmed.int() - full.int()).abs().max() <= 1  # uint8 frames: a rounding may cross a level
    assert (trimmed != full).float().mean() < 0.01
