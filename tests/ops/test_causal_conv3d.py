"""The convolution of a causal 3D conv (ops.causal_conv3d): the Triton kernel against the convolution it
stands for (error-ratio rule) on ragged channels-last chunks and several tilings, the dispatcher, input
checks, an sm_90 build, and the VAE using it."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from turbodiffusion.models.wan import vae_blocks
from turbodiffusion.models.wan.vae import WanVAE, WanVAEConfig
from turbodiffusion.models.wan.vae_blocks import CausalConv3d
from turbodiffusion.ops.causal_conv3d import causal_conv3d, causal_conv3d_reference, kernel_reads
from turbodiffusion.ops.causal_conv3d.kernel import ConvLaunch, causal_conv3d_triton
from turbodiffusion.testing.compare import assert_matches
from turbodiffusion.testing.sm90_compile import build_report, cuobjdump

# (B, C_in, T, H, W, C_out, kernel): the head's 96 -> 3 taps; channel counts that are not a multiple of the
# kernel's 32-wide slice; rows wider than one 128-position tile; more outputs than one 64-wide tile; a 1 x 1
# frame.
CASES = [
    (1, 96, 4, 5, 7, 3, (3, 3, 3)),
    (2, 24, 3, 9, 3, 5, (3, 3, 3)),
    (1, 40, 3, 3, 130, 3, (3, 3, 3)),
    (1, 8, 2, 4, 6, 72, (1, 3, 5)),
    (1, 16, 3, 1, 1, 1, (3, 1, 1)),
]


def _case(b, c, t, h, w, co, kernel, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, c, t, h, w, generator=g) + 0.3
    weight = torch.randn(co, c, *kernel, generator=g) / (c * kernel[0] * kernel[1] * kernel[2]) ** 0.5
    return x, weight, torch.randn(co, generator=g)


def _truth(x, weight, bias):
    pad = (0, weight.shape[3] // 2, weight.shape[4] // 2)
    return F.conv3d(x.double(), weight.double(), None if bias is None else bias.double(), padding=pad)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c[:6])))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("bias", [True, False])
def test_kernel_matches_the_convolution(case, dtype, bias, device):
    x, weight, b = _case(*case, seed=sum(case[:6]))
    b = b if bias else None
    x = x.to(device, dtype).contiguous(memory_format=torch.channels_last_3d)
    weight, b = weight.to(device, dtype), None if b is None else b.to(device, dtype)
    before = x.clone()
    out = causal_conv3d(x, weight, b, impl="triton")
    assert torch.equal(x, before), "the input was modified"
    assert out.dtype == dtype and out.is_contiguous(memory_format=torch.channels_last_3d)
    truth = _truth(x.cpu(), weight.cpu(), None if b is None else b.cpu()).float()
    eager = causal_conv3d_reference(x.cpu(), weight.cpu(), None if b is None else b.cpu())
    assert_matches(out.cpu(), truth, eager=eager, dtype=dtype)


def test_reference_is_the_causal_conv_without_padding_in_time():
    x, weight, b = _case(1, 6, 5, 4, 3, 2, (3, 3, 3), seed=1)
    want = F.conv3d(F.pad(x, (1, 1, 1, 1, 0, 0)), weight, b)
    torch.testing.assert_close(causal_conv3d_reference(x, weight, b), want)
    assert causal_conv3d_reference(x, weight, b).shape == (1, 2, 3, 4, 3)


def test_auto_takes_the_reference_off_cuda_and_for_channels_first(device):
    x, weight, b = _case(1, 8, 3, 4, 5, 3, (3, 3, 3), seed=2)
    x, weight, b = x.to(device), weight.to(device), b.to(device)
    torch.testing.assert_close(causal_conv3d(x, weight, b), causal_conv3d_reference(x, weight, b))
    with pytest.raises(ValueError, match="channels-last memory"):
        causal_conv3d(x, weight, b, impl="triton")


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "bias_shape", "match"),
    [
        ((1, 8, 3, 4, 5), (3, 7, 3, 3, 3), (3,), r"C_in = 8"),
        ((1, 8, 3, 4, 5), (3, 8, 3, 2, 3), (3,), "must be odd"),
        ((1, 8, 2, 4, 5), (3, 8, 3, 3, 3), (3,), "fewer than the kernel's 3"),
        ((1, 8, 3, 4, 5), (3, 8, 3, 3, 3), (4,), r"bias must be \[C_out\]"),
        ((8, 3, 4, 5), (3, 8, 3, 3, 3), (3,), r"\[B, C_in, T, H, W\]"),
    ],
)
def test_rejects_bad_inputs(x_shape, w_shape, bias_shape, match):
    with pytest.raises(ValueError, match=match):
        causal_conv3d(torch.zeros(x_shape), torch.zeros(w_shape), torch.zeros(bias_shape))


def test_rejects_a_bad_impl():
    x, weight, b = _case(1, 4, 3, 2, 2, 1, (3, 3, 3), seed=3)
    with pytest.raises(ValueError, match='impl must be "auto", "triton" or "reference"'):
        causal_conv3d(x, weight, b, impl="cuda")


@pytest.mark.parametrize(
    "launch",
    [
        ConvLaunch(2, 8, 32, 16),
        ConvLaunch(4, 4, 64, 32),
        ConvLaunch(1, 16, 16, 16),
        ConvLaunch(16, 1, 128, 16),
    ],
    ids=str,
)
def test_every_tiling_gives_the_same_convolution(launch, device):
    x, weight, b = _case(1, 32, 3, 6, 10, 96, (3, 3, 3), seed=4)
    truth = _truth(x, weight, b).float()
    x = x.to(device).contiguous(memory_format=torch.channels_last_3d)
    out = causal_conv3d_triton(x, weight.to(device), b.to(device), launch)
    assert_matches(out.cpu(), truth, dtype=torch.float32)


def test_kernel_reads_16_byte_rows_of_channels_last_memory(device):
    cl = torch.channels_last_3d
    assert kernel_reads(torch.zeros(1, 8, 3, 4, 5, dtype=torch.bfloat16).contiguous(memory_format=cl))
    assert not kernel_reads(torch.zeros(1, 8, 3, 4, 5, dtype=torch.bfloat16)), "channels-first"
    assert not kernel_reads(torch.zeros(1, 6, 3, 4, 5, dtype=torch.bfloat16).contiguous(memory_format=cl))
    assert kernel_reads(torch.zeros(1, 4, 3, 4, 5).contiguous(memory_format=cl)), "4 fp32 channels: 16 bytes"
    x = torch.zeros(1, 8, 3, 4, 5, dtype=torch.bfloat16, device=device)
    with pytest.raises(ValueError, match="16-byte rows of channels"):
        causal_conv3d(x, torch.zeros(2, 8, 3, 3, 3, device=device), None, impl="triton")


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
@pytest.mark.parametrize(("block_n", "block_k", "c_out"), [(16, 32, 3), (64, 32, 96)])
def test_kernel_compiles_for_sm90_with_overlapping_mmas(block_n, block_k, c_out):
    report = build_report("causal_conv3d", block_n, block_k, c_out)
    assert report["stack"] == 0 and not report["local_loads"], f"register spills: {report}"
    assert report["hgmma"] > 0, f"the products do not run as warpgroup MMAs: {report}"
    # The loop waits for all but the last MMA: each step's product overlaps the next step's loads. The box
    # is the MMA's operand as it lies in shared memory (a two-row box went through registers, LDSM).
    assert report["loop"]["mma_waits"] == [1], f"every MMA is waited for at once: {report}"
    assert report["loop"]["ldmatrix"] == 0, f"the input tile goes through registers: {report}"


def test_vae_head_takes_the_kernel_and_decodes_the_same(monkeypatch, device):
    """use_conv_kernel puts the decoder's 3-output head (and the 16-channel 1^3 conv2) on the op, and a
    chunked decode through the kernel equals the plain convolutions'."""
    cfg = WanVAEConfig.from_official(
        {
            "dim": 24,
            "z_dim": 16,
            "dim_mult": [1, 2, 2],
            "num_res_blocks": 1,
            "temperal_downsample": [True, True],
        }
    )
    with torch.device("meta"):
        vae = WanVAE(cfg)
    g = torch.Generator().manual_seed(5)
    vae.load_state_dict(
        {k: torch.randn(v.shape, generator=g) * 0.2 + (1.0 if k.endswith("gamma") else 0.0) for k, v in
         vae.state_dict().items()},
        assign=True,
    )  # fmt: skip
    vae.to(device).eval().use_channels_last().enable_fused_ops()
    latent = torch.randn(1, 16, 3, 3, 5, generator=g).to(device)
    # fp32 convolutions, not TF32, on a GPU: the kernel computes in fp32 and the bound is fp32's.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    with torch.inference_mode():
        plain = vae.decode(latent, chunk_latents=2)
        vae.use_conv_kernel()
        taken = [n for n, m in vae.named_modules() if isinstance(m, CausalConv3d) and m.conv_kernel]
        assert taken == ["conv2", "decoder.head.2"]
        calls = []

        def forced(x, weight, bias):
            # On CUDA the chunks are channels-last and "auto" takes the kernel; CPU convolutions return
            # channels-first outputs, so the chunk is laid out as on CUDA first.
            calls.append(tuple(weight.shape))
            return causal_conv3d(
                x.contiguous(memory_format=torch.channels_last_3d), weight, bias, impl="triton"
            )

        monkeypatch.setattr(vae_blocks, "causal_conv3d", forced)
        fast = vae.decode(latent, chunk_latents=2)
        vae.use_conv_kernel(False)
        assert not any(isinstance(m, CausalConv3d) and m.conv_kernel for m in vae.modules())
    assert calls.count((3, 24, 3, 3, 3)) == 2 and calls.count((16, 16, 1, 1, 1)) == 1, calls  # two chunks
    assert_matches(fast.cpu(), plain.cpu(), dtype=torch.float32)


@pytest.mark.gpu
def test_vae_head_runs_the_kernel_on_cuda(monkeypatch):
    """On CUDA, channels-last with the fused norms (the pipeline's decode), the head's input reaches the op
    channels-last, so "auto" runs the kernel."""
    from turbodiffusion.ops.causal_conv3d import kernel as conv_kernel

    cfg = WanVAEConfig.from_official(
        {"dim": 24, "z_dim": 16, "dim_mult": [1, 2], "num_res_blocks": 1, "temperal_downsample": [True]}
    )
    vae = (
        WanVAE(cfg).cuda().to(torch.bfloat16).eval().use_channels_last().enable_fused_ops().use_conv_kernel()
    )
    ran = []
    original = conv_kernel.causal_conv3d_triton
    monkeypatch.setattr(conv_kernel, "causal_conv3d_triton", lambda *a: ran.append(1) or original(*a))
    with torch.inference_mode():
        vae.decode(torch.randn(1, 16, 3, 4, 6, device="cuda"), chunk_latents=2)
    assert len(ran) >= 2, "the head's chunks did not take the kernel"
