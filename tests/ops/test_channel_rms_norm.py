"""Channel RMSNorm (+ SiLU) kernel vs its fp32 reference (error-ratio rule) on ragged channels-last
video and image tensors; layout handling of the dispatcher; input checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from turbodiffusion.ops.channel_rms_norm import channel_rms_norm, channel_rms_norm_reference
from turbodiffusion.testing.compare import assert_matches

# [B, C, t, H, W] video chunks and [B, C, H, W] frames: ragged sizes, the VAE's widths 96 and 384 and odd
# ones (a padded channel block).
VIDEO = [(1, 96, 2, 5, 7), (2, 20, 1, 3, 9), (1, 384, 1, 4, 6)]
IMAGE = [(3, 384, 5, 7), (1, 37, 2, 3)]


def channels_last(x):
    return x.contiguous(memory_format=torch.channels_last_3d if x.dim() == 5 else torch.channels_last)


@pytest.mark.parametrize("shape", VIDEO + IMAGE)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("silu", [False, True])
def test_channel_rms_norm_matches_reference(shape, dtype, silu, device):
    g = torch.Generator().manual_seed(sum(shape) + 7 * silu)
    x = channels_last((torch.randn(shape, generator=g) * 3 + 0.5).to(device, dtype))
    gamma = (1 + 0.1 * torch.randn(shape[1], *([1] * (len(shape) - 2)), generator=g)).to(device)
    before = x.clone()
    out = channel_rms_norm(x, gamma, silu=silu, impl="triton")
    assert torch.equal(x, before), "input was modified"
    assert out.stride() == x.stride(), "the output must keep the input's channels-last layout"
    truth = channel_rms_norm_reference(x.float().cpu(), gamma.cpu(), silu)
    assert_matches(out, truth, eager=channel_rms_norm_reference(x.cpu(), gamma.cpu(), silu), dtype=dtype)


def test_reference_is_the_vae_norm_then_silu():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 12, 3, 4, 5, generator=g, dtype=torch.float64).float()
    gamma = torch.randn(12, 1, 1, 1, generator=g)
    by_hand = x / x.pow(2).sum(1, keepdim=True).sqrt() * 12**0.5 * gamma
    torch.testing.assert_close(channel_rms_norm_reference(x, gamma), by_hand, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(channel_rms_norm_reference(x, gamma, silu=True), F.silu(by_hand))
    zeros = torch.zeros(1, 4, 2, 2)
    assert torch.equal(channel_rms_norm_reference(zeros, torch.ones(4)), zeros), "a zero vector must stay 0"


def test_dispatch_by_layout(device):
    x = torch.randn(1, 8, 2, 3, 4, device=device)  # channels-first: not rows of channels
    gamma = torch.ones(8, 1, 1, 1, device=device)
    with pytest.raises(ValueError, match="channels-last memory"):
        channel_rms_norm(x, gamma, impl="triton")
    # "auto" falls back to the reference for this layout (and on the CPU), with the same values.
    torch.testing.assert_close(
        channel_rms_norm(x, gamma, silu=True), channel_rms_norm_reference(x, gamma, True)
    )


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_invalid_inputs_raise(impl, device):
    x = channels_last(torch.randn(1, 8, 2, 3, 4, device=device))
    with pytest.raises(ValueError, match=r"gamma must be \[C, 1, ...\] or \[C\] with C = 8"):
        channel_rms_norm(x, torch.ones(4, device=device), impl=impl)
    with pytest.raises(ValueError, match="float32, bfloat16 or float16"):
        channel_rms_norm(x.double(), torch.ones(8, device=device), impl=impl)
    with pytest.raises(ValueError, match="C > 0"):
        channel_rms_norm(torch.randn(3, device=device), torch.ones(3, device=device), impl=impl)
    with pytest.raises(ValueError, match="one device"):
        channel_rms_norm(x, torch.ones(8, device="meta"), impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        channel_rms_norm(x, torch.ones(8, device=device), impl="cuda")


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_out_is_a_slot_of_a_larger_buffer(impl, device):
    """out= a time slice of a channels-last buffer (how the VAE writes behind a causal context): the slice
    is written, the frames before it are not touched, and out is returned."""
    g = torch.Generator().manual_seed(9)
    x = channels_last(torch.randn(1, 20, 3, 4, 5, generator=g).to(device, torch.bfloat16))
    gamma = torch.randn(20, 1, 1, 1, generator=g).to(device)
    buf = channels_last(torch.full((1, 20, 5, 4, 5), float("nan"), dtype=torch.bfloat16, device=device))
    got = channel_rms_norm(x, gamma, silu=True, out=buf[:, :, 2:], impl=impl)
    assert got.data_ptr() == buf[:, :, 2:].data_ptr()
    assert torch.isnan(buf[:, :, :2]).all(), "a store went before the slot"
    truth = channel_rms_norm_reference(x.float().cpu(), gamma.cpu(), True)
    assert_matches(
        buf[:, :, 2:],
        truth,
        eager=channel_rms_norm_reference(x.cpu(), gamma.cpu(), True),
        dtype=torch.bfloat16,
    )
    with pytest.raises(ValueError, match="out must match x"):
        channel_rms_norm(x, gamma, out=buf[:, :, 1:], impl=impl)
