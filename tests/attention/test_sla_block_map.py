"""SLA block selection (shared/docs/attention.md §2.1): counts, pooling, top-k validity, transposed lut."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.attention.sla.block_map import (
    block_scores,
    mean_pool_blocks,
    pooled_scores,
    select_blocks,
    topk_count,
    topk_lut_reference,
    transpose_selection,
)


@pytest.mark.parametrize(
    ("ratio", "nk", "expected"),
    [
        (0.25, 4, 1),
        (0.25, 5, 1),
        (0.29, 100, 28),
        (0.1, 512, 51),
        (0.15, 512, 76),
        (0.1, 1182, 118),
        (1.0, 7, 7),
    ],
)
def test_topk_count_floors_like_the_official_code(ratio, nk, expected):
    assert topk_count(ratio, nk) == expected


def test_topk_count_keeps_at_least_one_block():
    # The official code keeps 0 blocks here (and returns NaN rows); we keep one.
    assert topk_count(0.05, 5) == 1


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_topk_count_rejects_ratio_outside_unit_interval(ratio):
    with pytest.raises(ValueError, match=r"topk_ratio must be in \(0, 1\]"):
        topk_count(ratio, 10)


def test_topk_count_rejects_no_blocks():
    with pytest.raises(ValueError, match="num_key_blocks must be >= 1"):
        topk_count(0.5, 0)


@pytest.mark.parametrize("seq", [1, 17, 200, 333])
def test_mean_pool_divides_partial_block_by_real_rows(seq):
    g = torch.Generator().manual_seed(10 + seq)
    x = torch.randn(2, seq, 3, 64, generator=g)
    pooled = mean_pool_blocks(x, 64)  # [B, H, M, D]
    assert pooled.shape == (2, 3, -(-seq // 64), 64)
    for i in range(pooled.shape[2]):
        expected = x[:, i * 64 : (i + 1) * 64].double().mean(dim=1)  # real rows only
        torch.testing.assert_close(pooled[:, :, i].double(), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(("block_q", "block_k"), [(64, 32), (32, 64), (128, 64)])
@pytest.mark.parametrize("seq", [1, 17, 200, 333])
def test_selection_is_a_top_k_of_the_scores(seq, block_q, block_k, dtype):
    g = torch.Generator().manual_seed(seq * 7 + block_q)
    q = torch.randn(2, seq, 2, 64, generator=g).to(dtype)
    k = (torch.randn(2, seq, 2, 64, generator=g) + torch.randn(64, generator=g)).to(dtype)
    sel = select_blocks(q, k, block_q, block_k, 0.5)
    scores = block_scores(q, k, block_q, block_k).float()
    nk = -(-seq // block_k)
    assert sel.block_map.dtype == torch.int8 and sel.block_map.shape == (2, 2, -(-seq // block_q), nk)
    assert sel.topk == topk_count(0.5, nk)
    assert (sel.block_map.sum(-1) == sel.topk).all()
    assert (sel.lut.diff(dim=-1) > 0).all(), "lut must be ascending"
    assert torch.equal(torch.zeros_like(sel.block_map).scatter_(-1, sel.lut, 1), sel.block_map)
    chosen = sel.block_map.bool()
    lowest_chosen = scores.masked_fill(~chosen, float("inf")).amin(-1)
    highest_left = scores.masked_fill(chosen, float("-inf")).amax(-1)
    assert (lowest_chosen >= highest_left).all()


def test_block_scores_match_an_independent_fp64_computation():
    g = torch.Generator().manual_seed(3)
    q = torch.randn(1, 333, 2, 64, generator=g)
    k = torch.randn(1, 333, 2, 64, generator=g) + 5 * torch.randn(64, generator=g)
    qd, kd = q.double().transpose(1, 2), k.double().transpose(1, 2)  # [B, H, L, D]
    ks = kd - kd.mean(dim=2, keepdim=True)
    pq = torch.stack([qd[:, :, i : i + 64].mean(2) for i in range(0, 333, 64)], dim=2)
    pk = torch.stack([ks[:, :, j : j + 32].mean(2) for j in range(0, 333, 32)], dim=2)
    torch.testing.assert_close(
        block_scores(q, k, 64, 32).double(), pq @ pk.transpose(-1, -2), rtol=1e-5, atol=1e-5
    )


def test_smoothing_does_not_change_the_fp32_selection():
    g = torch.Generator().manual_seed(4)
    q = torch.randn(1, 256, 2, 64, generator=g)
    k = torch.randn(1, 256, 2, 64, generator=g)
    shifted = k + 3 * torch.randn(64, generator=g)  # a per-channel mean: a constant shift per score row
    assert torch.equal(
        select_blocks(q, k, 64, 64, 0.5).block_map, select_blocks(q, shifted, 64, 64, 0.5).block_map
    )


@pytest.mark.parametrize(("mq", "nk"), [(1, 1), (5, 3), (7, 11)])
def test_transpose_selection_lists_the_selecting_query_blocks(mq, nk):
    g = torch.Generator().manual_seed(mq * 100 + nk)
    block_map = (torch.rand(2, 3, mq, nk, generator=g) < 0.4).to(torch.int8)
    qlut, count = transpose_selection(block_map)
    assert qlut.shape == (2, 3, nk, mq) and count.shape == (2, 3, nk)
    for b in range(2):
        for h in range(3):
            for j in range(nk):
                expected = torch.nonzero(block_map[b, h, :, j]).flatten().int()
                assert count[b, h, j] == len(expected)
                assert torch.equal(qlut[b, h, j, : len(expected)], expected)


def test_select_blocks_validates_inputs():
    q = torch.randn(1, 64, 2, 64)
    with pytest.raises(ValueError, match="must have the same"):
        select_blocks(q, torch.randn(1, 65, 2, 64), 64, 64, 0.5)
    with pytest.raises(ValueError, match="one float dtype"):
        select_blocks(q, q.double(), 64, 64, 0.5)
    with pytest.raises(ValueError, match="block sizes must be >= 1"):
        select_blocks(q, q, 0, 64, 0.5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("seq", "block"), [(1, 64), (17, 16), (200, 64), (333, 128)])
@pytest.mark.parametrize("smooth", [False, True])
def test_pool_kernel_matches_the_reference_pooling(seq, block, dtype, smooth, device):
    from turbodiffusion.attention.sla.pool_kernel import pool_blocks_triton

    g = torch.Generator().manual_seed(seq + block)
    x = (torch.randn(2, seq, 3, 64, generator=g) + 3 * torch.randn(64, generator=g)).to(dtype)
    mean = x.mean(dim=1, keepdim=True) if smooth else None
    ref = mean_pool_blocks(x - mean if smooth else x, block).float()
    out = pool_blocks_triton(x.to(device), block, mean[:, 0].to(device) if smooth else None).cpu()
    assert out.shape == ref.shape and out.dtype == dtype
    # Only the fp32 summation order differs: the two fp32 sums are within the summation error bound,
    # and after rounding to the dtype within one of its ulps, on few values.
    absmean = mean_pool_blocks((x - mean if smooth else x).double().abs(), block)
    sum_err = 2 * block * torch.finfo(torch.float32).eps * absmean
    ulp = torch.finfo(dtype).eps * ref.abs()
    assert ((out.double() - ref.double()).abs() <= sum_err + ulp).all()
    if dtype != torch.float32:
        assert (out.float() == ref).float().mean() >= 0.97


def test_pool_kernel_rounds_an_fp32_mean_to_the_input_dtype(device):
    """SageSLA passes the fp32 K mean of its one pass over K; pooling must see it in k's dtype, as the
    reference's k.mean is, so the blocks match those of a mean rounded beforehand, bit for bit."""
    from turbodiffusion.attention.sla.pool_kernel import pool_blocks_triton

    g = torch.Generator().manual_seed(9)
    x = (torch.randn(1, 150, 2, 64, generator=g) + 3 * torch.randn(64, generator=g)).bfloat16().to(device)
    mean = x.float().mean(dim=1)
    assert torch.equal(pool_blocks_triton(x, 32, mean), pool_blocks_triton(x, 32, mean.bfloat16()))


def test_pool_kernel_rejects_what_it_cannot_take(device):
    from turbodiffusion.attention.sla.pool_kernel import pool_blocks_triton

    x = torch.randn(1, 40, 2, 64, device=device)
    with pytest.raises(ValueError, match="powers of two"):
        pool_blocks_triton(x, 48)
    with pytest.raises(ValueError, match="mean must be"):
        pool_blocks_triton(x, 32, torch.zeros(1, 2, 64, device=device, dtype=torch.bfloat16))


@pytest.mark.gpu
def test_select_blocks_on_cuda_uses_the_kernel_and_selects_like_the_reference():
    g = torch.Generator().manual_seed(5)
    q = torch.randn(1, 4000, 4, 128, generator=g).bfloat16()
    k = (torch.randn(1, 4000, 4, 128, generator=g) + torch.randn(128, generator=g)).bfloat16()
    on_gpu = select_blocks(q.cuda(), k.cuda(), 64, 128, 0.1)
    on_cpu = select_blocks(q, k, 64, 128, 0.1)
    same = (on_gpu.lut.cpu() == on_cpu.lut).all(dim=-1).float().mean()
    assert same >= 0.99, f"only {same:.3f} of the query blocks select the same key blocks"


def test_a_precomputed_k_mean_selects_the_same_blocks():
    """SageSLA hands select_blocks the K mean of its one pass over k and v; the blocks must not change."""
    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(2, 2, 150, 3, 64, generator=g).unbind(0)
    k = k + torch.randn(64, generator=g)
    own = select_blocks(q, k, 32, 16, 0.3)
    given = select_blocks(q, k, 32, 16, 0.3, k_mean=k.mean(dim=1, dtype=torch.float32))
    assert torch.equal(own.lut, given.lut)
    with pytest.raises(ValueError, match="k_mean must be"):
        select_blocks(q, k, 32, 16, 0.3, k_mean=k.mean(dim=(1, 2)))


def test_topk_reference_keeps_the_largest_and_breaks_ties_towards_lower_indices():
    scores = torch.tensor([[3.0, 1.0, 3.0, 2.0, 3.0, 0.0], [-1.0, -0.0, 0.0, -2.0, 0.0, 5.0]])
    # Row 0: three 3s tie for two places, indices 0 and 2 win; row 1: 5, then the first of three zeros.
    assert topk_lut_reference(scores, 2).tolist() == [[0, 2], [1, 5]]
    assert topk_lut_reference(scores, 4).tolist() == [[0, 2, 3, 4], [1, 2, 4, 5]]
    g = torch.Generator().manual_seed(8)
    distinct = torch.randn(3, 4, 50, generator=g)  # no ties: the same set as torch.topk
    expected = torch.topk(distinct, 7, dim=-1).indices.sort(dim=-1).values
    assert torch.equal(topk_lut_reference(distinct, 7), expected)


def _tied_scores(shape, levels, g, dtype):
    """Scores on a few levels (most rows full of ties), signed zeros among them, in dtype."""
    s = torch.randint(-levels, levels + 1, shape, generator=g).to(torch.float32)
    s = torch.where(torch.rand(shape, generator=g) < 0.2, -0.0 * s.sign().abs(), s)  # some -0.0
    return s.to(dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("shape", "topk"), [((1, 1, 1, 1), 1), ((2, 3, 5, 37), 4), ((1, 2, 9, 256), 25),
                                             ((3, 130), 130), ((1, 1, 3, 591), 59)])  # fmt: skip
def test_topk_kernel_matches_the_reference(shape, topk, dtype, device):
    from turbodiffusion.attention.sla.topk_kernel import topk_lut_triton

    g = torch.Generator().manual_seed(shape[-1] + topk)
    for scores in (
        torch.randn(shape, generator=g).to(dtype),
        torch.randn(shape, generator=g).to(dtype) * 1e4 - 3e3,  # large and mostly negative
        _tied_scores(shape, 3, g, dtype),
    ):
        out = topk_lut_triton(scores.to(device), topk).cpu()
        assert out.dtype == torch.int64 and out.shape == (*shape[:-1], topk)
        assert torch.equal(out, topk_lut_reference(scores, topk))


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_topk_kernel_ties_at_a_negative_kth_score(dtype, device):
    """16-bit scores: the search skips the key bits that are always zero in the score, so the k-th key's
    low bits must be filled back (all ones for a negative score) before the ties are counted."""
    from turbodiffusion.attention.sla.topk_kernel import topk_lut_triton

    scores = torch.tensor([[-1.0, -2.0, -1.0, -1.0, -3.0], [-2.0, -1.0, -2.0, -2.0, -1.0]], dtype=dtype)
    for k in (1, 2, 3):
        out = topk_lut_triton(scores.to(device), k).cpu()
        assert torch.equal(out, topk_lut_reference(scores, k)), k


def test_topk_kernel_counts_negative_zero_as_zero(device):
    from turbodiffusion.attention.sla.topk_kernel import topk_lut_triton

    scores = torch.tensor([[-0.0, 1.0, 0.0, -0.0, 0.0, -1.0]])
    assert topk_lut_triton(scores.to(device), 3).tolist() == [[0, 1, 2]]
    assert topk_lut_reference(scores, 3).tolist() == [[0, 1, 2]]


@pytest.mark.parametrize(("lanes", "warps"), [(1024, 1), (2048, 2), (4096, 4), (256, 1)])
def test_topk_kernel_launches_give_one_lut(lanes, warps, device):
    """The launch's rows per program and warps (benchmarks/block_selection.py times them) change nothing."""
    from turbodiffusion.attention.sla.topk_kernel import topk_lut_triton

    g = torch.Generator().manual_seed(lanes + warps)
    for scores in (
        torch.randn(2, 7, 591, generator=g).bfloat16(),
        _tied_scores((5, 300), 3, g, torch.float16),
    ):
        out = topk_lut_triton(scores.to(device), 31, lanes=lanes, num_warps=warps).cpu()
        assert torch.equal(out, topk_lut_reference(scores, 31))
    with pytest.raises(ValueError, match="lanes must be a power of two"):
        topk_lut_triton(scores.to(device), 3, lanes=1000)


def test_topk_kernel_reads_rows_with_a_stride(device):
    from turbodiffusion.attention.sla.topk_kernel import topk_lut_triton

    g = torch.Generator().manual_seed(2)
    wide = torch.randn(6, 80, generator=g)
    scores = wide[:, 10:50]  # rows 80 apart
    assert torch.equal(topk_lut_triton(scores.to(device), 9).cpu(), topk_lut_reference(scores, 9))


def test_topk_kernel_rejects_what_it_cannot_take(device):
    from turbodiffusion.attention.sla.topk_kernel import topk_lut_triton

    scores = torch.randn(2, 10, device=device)
    for bad in (0, 11):
        with pytest.raises(ValueError, match=r"topk must be in \[1, 10\]"):
            topk_lut_triton(scores, bad)
    with pytest.raises(ValueError, match="fp32, bf16 or fp16"):
        topk_lut_triton(scores.double(), 3)


@pytest.mark.gpu
def test_select_blocks_on_cuda_selects_with_the_kernel():
    g = torch.Generator().manual_seed(6)
    q = torch.randn(1, 3000, 3, 128, generator=g).bfloat16().cuda()
    k = (torch.randn(1, 3000, 3, 128, generator=g) + torch.randn(128, generator=g)).bfloat16().cuda()
    sel = select_blocks(q, k, 64, 128, 0.1)
    scores = block_scores(q, k, 64, 128)
    assert torch.equal(sel.lut, topk_lut_reference(scores, sel.topk))


@pytest.mark.parametrize("nk", [5, 8, 591])
def test_pooled_scores_rows_are_8_aligned_views(nk):
    """The scores' rows sit a multiple of 8 elements apart (cuBLAS's aligned kernels need it; 591 key blocks at
    14B-720p), and the values are the plain product's."""
    g = torch.Generator().manual_seed(nk)
    q, k = torch.randn(2, 3, 7, 16, generator=g), torch.randn(2, 3, nk, 16, generator=g)
    scores = pooled_scores(q, k)
    assert scores.shape == (2, 3, 7, nk) and scores.stride(-1) == 1 and scores.stride(-2) % 8 == 0
    torch.testing.assert_close(scores, q @ k.transpose(-1, -2))
    assert scores.reshape(-1, nk).data_ptr() == scores.data_ptr(), "rows must flatten without a copy"


def test_block_scores_trace_without_a_graph_break():
    """torch.compile sees the block scores as one graph (the padded out= of the eager path would break it in
    every layer), and the traced scores are the eager ones."""
    import torch._dynamo  # imported here: it costs about a second, and no other test here needs it

    g = torch.Generator().manual_seed(5)
    q, k = torch.randn(1, 200, 2, 16, generator=g), torch.randn(1, 200, 2, 16, generator=g)
    report = torch._dynamo.explain(block_scores)(q, k, 16, 32)
    assert report.graph_break_count == 0, [str(r.reason).splitlines()[0] for r in report.break_reasons]
    compiled = torch.compile(block_scores, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(q, k, 16, 32), block_scores(q, k, 16, 32))
