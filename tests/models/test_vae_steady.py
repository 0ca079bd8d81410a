"""The VAE encoder on clips whose last frames repeat (models/wan/vae_steady.py): the same latent as the
independent full-sequence formulation, with much of the work skipped."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from turbodiffusion.models.wan.vae import WanVAE
from turbodiffusion.models.wan.vae_blocks import CausalConv3d, Resample
from turbodiffusion.models.wan.vae_steady import (
    Frames,
    output_frames,
    steady_output_start,
    steady_start,
)
from turbodiffusion.testing.compare import assert_matches

from .test_vae import SMALL, SMALL_3LEVEL, _random_vae, _video, full_encode


def _with_tail(video: Tensor, start: int, zeros: bool) -> Tensor:
    """``video`` with frames start.. replaced by zeros, or by copies of frame ``start``."""
    out = video.clone()
    out[:, :, start:] = 0 if zeros else video[:, :, start : start + 1]
    return out


def _conv_frames(model: WanVAE) -> tuple[list[int], list]:
    """Output frames of every encoder causal convolution call, appended as they run (hooks returned)."""
    seen: list[int] = []
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: seen.append(out.shape[2]))
        for m in model.encoder.modules()
        if isinstance(m, CausalConv3d)
    ]
    return seen, hooks


# ----------------------------------------------------------------------------- steady_start


def test_steady_start_finds_the_repeated_tail():
    g = torch.Generator().manual_seed(0)
    video = _video(g, 2, 9, 4, 6)
    assert steady_start(video) == 8  # only the last frame equals itself
    assert steady_start(_with_tail(video, 3, zeros=True)) == 3
    assert steady_start(_with_tail(video, 5, zeros=False)) == 5
    assert steady_start(_with_tail(video, 0, zeros=False)) == 0
    mixed = _with_tail(video, 3, zeros=True)
    mixed[1, 2, 6, 1, 1] = 0.5  # one pixel of one batch item breaks the run
    assert steady_start(mixed) == 7
    broken = _with_tail(video, 3, zeros=True)
    broken[0, 0, -1, 0, 0] = float("nan")  # the last frame is not equal to itself
    assert steady_start(broken) == 9


# ----------------------------------------------------------------------------- the latent


@pytest.mark.parametrize(
    ("cfg", "t", "h", "w"),
    [(SMALL, 21, 16, 24), (SMALL_3LEVEL, 25, 12, 20)],
    ids=["attn-4level", "3level-TT"],
)
@pytest.mark.parametrize(("start", "zeros"), [(1, True), (2, False), (6, True), (13, False)])
@pytest.mark.parametrize("chunk_latents", [1, 2, 3, 100])
def test_steady_tail_matches_full_sequence(cfg, t, h, w, start, zeros, chunk_latents):
    """Clips whose frames repeat from ``start`` on (zeros, as I2V's, or a repeated frame): the latent equals
    the full-sequence formulation (fp32, as tests/models/test_vae.py bounds chunking), whether the encoder
    finds the repeats or is told, at every chunking (2 and 3 leave ragged chunks, 100 is one chunk)."""
    g = torch.Generator().manual_seed(start + t)
    model = _random_vae(cfg, seed=3 + start)
    video = _with_tail(_video(g, 2, t, h, w), start, zeros)
    with torch.inference_mode():
        found = model.encode(video, chunk_latents=chunk_latents)
        told = model.encode(video, chunk_latents=chunk_latents, steady_from=start)
        ref = full_encode(model.state_dict(), cfg, video)
    assert_matches(found, ref, dtype=torch.float32)
    assert_matches(told, ref, dtype=torch.float32)


@pytest.mark.parametrize("chunk_latents", [1, 5])
def test_steady_tail_skips_most_of_an_i2v_encode(chunk_latents):
    """[image, zeros] over 41 frames: the encoder's convolutions compute under half the frames they do
    without the steady tail, and the latent is the same (bit for bit here: the kept frames are computed
    by the same CPU convolutions)."""
    g = torch.Generator().manual_seed(5)
    model = _random_vae(SMALL, seed=6)
    video = _with_tail(_video(g, 1, 41, 16, 24), 1, zeros=True)
    seen, hooks = _conv_frames(model)
    with torch.inference_mode():
        steady = model.encode(video, chunk_latents=chunk_latents, steady_from=1)
        steady_frames = sum(seen)
        seen.clear()
        every = model.use_steady_tail(False).encode(video, chunk_latents=chunk_latents)
        every_frames = sum(seen)
    for hook in hooks:
        hook.remove()
    assert steady_frames < 0.5 * every_frames, (steady_frames, every_frames)
    assert_matches(steady, every, dtype=torch.float32)


def test_steady_tail_off_compares_no_frames(monkeypatch):
    """use_steady_tail(False) runs every frame and never looks for repeats (no device-to-host read)."""
    import turbodiffusion.models.wan.vae as vae_module

    model = _random_vae(SMALL, seed=1).use_steady_tail(False)
    monkeypatch.setattr(vae_module, "steady_start", lambda video: pytest.fail("compared the frames"))
    with torch.inference_mode():
        model.encode(torch.zeros(1, 3, 9, 16, 24))


@pytest.mark.parametrize("chunk_latents", [1, 7])
def test_bf16_steady_tail_close_to_fp32(device, chunk_latents):
    """In bf16 (channels-last, fused norms: the pipeline's form, on the GPU when there is one) the steady
    tail's latent is as close to the fp32 one as STYLE.md's error-ratio rule asks, against the
    full-sequence bf16 formulation."""
    g = torch.Generator().manual_seed(8)
    model = _random_vae(SMALL, seed=9)
    low = copy.deepcopy(model).to(device, torch.bfloat16).use_channels_last().enable_fused_ops()
    sd_low = copy.deepcopy(model).to(torch.bfloat16).state_dict()
    video = _with_tail(_video(g, 1, 29, 16, 24), 1, zeros=True)
    with torch.inference_mode():
        truth = model.use_steady_tail(False).encode(video)
        steady = low.encode(video.to(device), steady_from=1, chunk_latents=chunk_latents).cpu()
        eager = full_encode(sd_low, SMALL, video.to(torch.bfloat16))
    assert steady.dtype == torch.bfloat16
    assert_matches(steady, truth, eager=eager, dtype=torch.bfloat16)


def test_encode_rejects_bad_steady_from():
    model = _random_vae(SMALL, seed=1)
    video = torch.zeros(1, 3, 9, 16, 24)
    for bad in (-1, 10, 1.5, "1"):
        with pytest.raises(ValueError, match="steady_from must be a frame index in"):
            model.encode(video, steady_from=bad)


def test_meta_encode_without_steady_from_runs_every_frame():
    """A meta-device clip has no values to compare: every frame runs, as the memory counts assume."""
    counts = []
    for steady in (True, False):
        with torch.device("meta"):
            model = WanVAE(SMALL).use_steady_tail(steady)
        seen, _ = _conv_frames(model)
        with torch.no_grad():
            out = model.encode(torch.empty(1, 3, 13, 16, 24, device="meta"))
        assert out.shape == (1, SMALL.z_dim, 4, 2, 3)
        counts.append(sum(seen))
    assert counts[0] == counts[1] > 0


# ----------------------------------------------------------------------------- the rules


def test_rules_per_stage():
    conv = CausalConv3d(4, 4, 3, padding=1)
    assert steady_output_start(conv, 5) == 7  # output t reads t-2..t
    assert steady_output_start(CausalConv3d(4, 4, 1), 5) == 5
    down = Resample(4, "downsample3d")
    # Output k >= 1 reads frames 2k-2..2k; output 0 is frame 0, never one of the repeats.
    assert [steady_output_start(down, s) for s in (0, 1, 2, 3, 4)] == [1, 2, 2, 3, 3]
    assert steady_output_start(Resample(4, "downsample2d"), 5) == 5
    assert output_frames(down, 0, 1) == (0, 1)  # the first chunk passes through
    assert output_frames(down, 5, 4) == (3, 2)
    with pytest.raises(ValueError, match="odd frames with an even count"):
        output_frames(down, 4, 4)
    with pytest.raises(TypeError, match="upsample3d"):
        steady_output_start(Resample(4, "upsample3d"), 1)
    with pytest.raises(TypeError, match="Linear"):
        steady_output_start(nn.Linear(2, 2), 1)
    with pytest.raises(TypeError, match="temporally strided"):
        steady_output_start(CausalConv3d(4, 4, (3, 1, 1), stride=(2, 1, 1)), 1)


def test_frames_fill_the_tail_in_the_parts_memory_format():
    g = torch.Generator().manual_seed(2)
    head = torch.randn(1, 4, 2, 3, 5, generator=g).contiguous(memory_format=torch.channels_last_3d)
    tail = torch.randn(1, 4, 1, 3, 5, generator=g).contiguous(memory_format=torch.channels_last_3d)
    frames = Frames(head, tail, 6)
    out = frames.first(5)
    assert out.is_contiguous(memory_format=torch.channels_last_3d)
    assert torch.equal(out[:, :, :2], head) and torch.equal(out[:, :, 2:], tail.expand(1, 4, 3, 3, 5))
    assert frames.first(2).data_ptr() == head.data_ptr()  # a view, no copy
    assert torch.equal(Frames(None, tail, 3).first(3), tail.expand(1, 4, 3, 3, 5))
    with pytest.raises(ValueError, match="asked for 3 frames of a chunk that holds 2"):
        Frames(head, None, 2).first(3)


def test_gradients_through_the_steady_tail_match_every_frame():
    """Training encodes with autograd on (default_model/train.py): a clip with a repeated tail gives the
    every-frame path's weight gradients (each kept frame's gradient summed over the frames it stands for)."""
    g = torch.Generator().manual_seed(12)
    model = _random_vae(SMALL_3LEVEL, seed=13)
    video = _with_tail(_video(g, 1, 17, 12, 20), 6, zeros=False)
    grads = []
    for steady in (True, False):
        model.zero_grad()
        model.use_steady_tail(steady).encode_moments(video, chunk_latents=2).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        assert_matches(grads[0][name], grads[1][name], dtype=torch.float32)
