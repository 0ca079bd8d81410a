"""BlockOffload: a DiT streamed block by block gives the resident model's output, moving blocks in order."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.pipelines.block_offload import BlockOffload, _pack, stream_blocks
from turbodiffusion.quant import Fp8RowConfig, Int8Config, Int8Linear, quantize_

# dim 128: the W8A8 linears need in_features % 128 == 0. Four blocks, so depth 0, 1 and 2 differ.
CONFIG = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=4, text_dim=32, text_len=8, freq_dim=32)
N = CONFIG.num_layers


def make_model(attention: str = "sdpa", quant: bool = False, seed: int = 0) -> WanDiT:
    """A tiny WanDiT with random weights everywhere (modulation and head included, never zeros)."""
    model = WanDiT(CONFIG, AttentionConfig(backend=attention))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    if quant:
        quantize_(model, Int8Config(impl="reference"))
    return model.eval()


def make_inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, 2, 6, 8, generator=g)  # L = 2 * 3 * 4 = 24 tokens
    return x, torch.tensor([731.0]), torch.randn(1, 5, CONFIG.text_dim, generator=g)


def expected_events(depth: int) -> list[tuple[int, str]]:
    """The moves of one forward: blocks 0..depth queued up front, then each release queues its successor."""
    slots = min(depth + 1, N)
    events = [(j, "device") for j in range(slots)]
    for i in range(N):
        events.append((i, "park"))
        if i + slots < N:
            events.append((i + slots, "device"))
    return events


def storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def q_weight(block: nn.Module, quant: bool) -> torch.Tensor:
    return block.self_attn.q.int8_weight if quant else block.self_attn.q.weight


@pytest.mark.parametrize("depth", [0, 1, 2, 7])
@pytest.mark.parametrize(("attention", "quant"), [("sdpa", False), ("sdpa", True), ("sla", False)])
def test_streamed_output_equals_resident(attention, quant, depth):
    model = make_model(attention, quant)
    x, t, ctx = make_inputs()
    with torch.no_grad():
        ref = model(x, t, ctx)
    at_rest = [q_weight(b, quant).data_ptr() for b in model.blocks]
    during: list[int] = []
    with stream_blocks(model, "cpu", depth=depth) as offload:
        # Registered after the offload's hooks, so they run after the block was brought in.
        spies = [
            b.register_forward_pre_hook(lambda m, a: during.append(q_weight(m, quant).data_ptr()))
            for b in model.blocks
        ]
        with torch.inference_mode():
            first = model(x, t, ctx)
        with torch.no_grad():  # slots allocated under inference_mode are still writable here
            second = model(x, t, ctx)
        parked = [q_weight(b, quant).data_ptr() for b in model.blocks]
        for s in spies:
            s.remove()
        assert offload.resident() == []
    assert torch.equal(first, ref) and torch.equal(second, ref)
    # Each block ran on its slot copy, not on its parked bytes, and went back to the parked bytes after.
    assert len(during) == 2 * N and not set(during) & set(parked)
    assert len(set(parked)) == N and parked != at_rest
    if quant:
        assert any(isinstance(m, Int8Linear) for m in model.modules())


@pytest.mark.parametrize("depth", [0, 1, 2, 7])
def test_events_bring_each_block_in_before_it_runs_and_park_it_after(depth):
    model = make_model()
    x, t, ctx = make_inputs()
    offload = stream_blocks(model, "cpu", depth=depth)
    seen: list[tuple[int, list[tuple[int, str]], list[int]]] = []
    for i, b in enumerate(model.blocks):
        b.register_forward_pre_hook(
            lambda m, a, i=i: seen.append((i, list(offload.events), offload.resident()))
        )
    with torch.no_grad():
        for _ in range(2):  # events hold the latest forward only, so the second forward starts afresh
            seen.clear()
            model(x, t, ctx)
            assert offload.events == expected_events(depth)
    assert [i for i, _, _ in seen] == list(range(N))
    for i, events, resident in seen:
        assert (i, "device") in events and (i, "park") not in events  # in before running, not yet out
        assert i in resident and len(resident) <= depth + 1
    # Replayed: never more than depth + 1 blocks on the device, each moved in once, in block order.
    on = set()
    for j, where in offload.events:
        if where == "device":
            on.add(j)
        else:
            on.remove(j)
        assert len(on) <= depth + 1
    assert not on
    for where in ("device", "park"):
        assert [j for j, w in offload.events if w == where] == list(range(N))


def test_remove_restores_a_plain_model():
    model = make_model(quant=True)
    x, t, ctx = make_inputs()
    with torch.no_grad():
        ref = model(x, t, ctx)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    params = list(model.parameters())
    offload = stream_blocks(model, "cpu", depth=1)
    with torch.no_grad():
        model(x, t, ctx)
    assert offload.remove() is model
    assert offload.remove() is model  # a second remove is a no-op
    assert list(model.parameters()) == params  # the same Parameter objects, as a user may hold them
    assert not model._forward_pre_hooks and not any(
        b._forward_pre_hooks or b._forward_hooks for b in model.blocks
    )
    tensors = [*model.parameters(), *model.buffers()]
    assert all(t.device.type == "cpu" for t in tensors)
    # Every tensor owns its storage again (no views into the flat parking buffers).
    assert len({storage(t) for t in tensors}) == len(tensors)
    assert all(t.untyped_storage().nbytes() == t.numel() * t.element_size() for t in tensors)
    after = model.state_dict()
    assert after.keys() == state.keys() and all(torch.equal(after[k], v) for k, v in state.items())
    with torch.no_grad():
        assert torch.equal(model(x, t, ctx), ref)
    with pytest.raises(RuntimeError, match="was removed"):
        offload.activate()


def test_a_forward_that_raised_leaves_nothing_behind():
    model = make_model()
    x, t, ctx = make_inputs()
    with torch.no_grad():
        ref = model(x, t, ctx)
    offload = stream_blocks(model, "cpu", depth=1)
    fail = [True]

    def boom(m, a):
        if fail[0]:
            raise RuntimeError("boom")

    model.blocks[2].register_forward_pre_hook(boom)
    with torch.no_grad(), pytest.raises(RuntimeError, match="boom"):
        model(x, t, ctx)
    assert offload.resident() == [2, 3]  # block 2 was brought in and is stranded by the exception
    fail[0] = False
    with torch.no_grad():
        assert torch.equal(model(x, t, ctx), ref)
    assert offload.events[:2] == [(2, "park"), (3, "park")]  # the leftovers released first
    assert offload.events[2:] == expected_events(1) and offload.resident() == []


def test_blocks_run_one_at_a_time_in_any_order():
    model = make_model()
    x, t, ctx = make_inputs()
    captured = {}
    handle = model.blocks[0].register_forward_pre_hook(lambda m, a: captured.setdefault("args", a))
    with torch.no_grad():
        model(x, t, ctx)
    handle.remove()
    args = captured["args"]  # block 0's inputs: (x [1, 24, 128], e0, context, cos, sin)
    with torch.no_grad():
        want = [model.blocks[i](*args) for i in (3, 1)]
    offload = stream_blocks(model, "cpu", depth=1)
    with torch.no_grad():  # called directly and out of order: each is brought in on demand
        got = [model.blocks[i](*args) for i in (3, 1)]
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    assert offload.events[:3] == [(3, "device"), (3, "park"), (1, "device")]
    model.blocks[0].register_forward_pre_hook(lambda m, a: model.blocks[1](*a))
    with torch.no_grad(), pytest.raises(RuntimeError, match="block 1 started while block 0 is still running"):
        model(x, t, ctx)


def test_trunk_follows_activate_and_park():
    model = make_model()
    x, t, ctx = make_inputs()
    with torch.no_grad():
        ref = model(x, t, ctx)
    offload = BlockOffload(model, "cpu", depth=1)
    assert not offload.active
    with torch.no_grad(), pytest.raises(RuntimeError, match="trunk is parked; call activate"):
        model(x, t, ctx)
    offload.activate()
    with torch.no_grad():
        assert torch.equal(model(x, t, ctx), ref)
    offload.park()
    assert not offload.active and offload.resident() == []
    assert offload.trunk_bytes > 0 and offload.block_bytes == N * offload.slot_bytes


def test_autograd_is_refused():
    model = make_model()
    x, t, ctx = make_inputs()
    stream_blocks(model, "cpu")
    with pytest.raises(RuntimeError, match="inference-only"):
        model(x, t, ctx)
    for p in model.parameters():
        p.requires_grad_(False)
    model(x, t, ctx)  # nothing to differentiate: allowed


def test_parking_packs_blocks_into_few_power_of_two_allocations():
    # Wan 14B: a 460 MB trunk and 40 blocks of 702 MB. The page-locked allocator rounds each request up to
    # a power of two, so one allocation per block would take 1.46x the model's bytes.
    mb = 2**20
    sizes = [460 * mb] + [702 * mb] * 40
    runs = _pack(sizes)
    assert [k for run in runs for k in run] == list(range(len(sizes)))  # every item once, in order
    rounded = sum(1 << (sum(sizes[k] for k in run) - 1).bit_length() for run in runs)
    assert rounded <= 1.05 * sum(sizes) and len(runs) <= 5
    assert _pack([5, 5, 5]) == [[0, 1, 2]] and _pack([3, 9, 1]) == [[0, 1, 2]] and _pack([100]) == [[0]]


def test_bad_arguments():
    with pytest.raises(ValueError, match="needs model.blocks"):
        BlockOffload(nn.Linear(4, 4), "cpu")
    with pytest.raises(ValueError, match=r"depth must be an int >= 0 \(got -1\)"):
        BlockOffload(make_model(), "cpu", depth=-1)
    with pytest.raises(ValueError, match="park must be the CPU"):
        BlockOffload(make_model(), "cpu", park="meta")
    with torch.device("meta"):
        meta = WanDiT(CONFIG)
    with pytest.raises(ValueError, match="is on the meta device; load the weights"):
        BlockOffload(meta, "cpu")


@pytest.mark.gpu
@pytest.mark.parametrize("quant", [False, True])
def test_cuda_streaming_matches_resident_within_two_slots(quant):
    model = make_model(quant=quant)
    if quant:
        for m in model.modules():
            if isinstance(m, Int8Linear):
                m.impl = "auto"  # the Triton kernels on the GPU
    model = model.to(torch.bfloat16)
    x, t, ctx = (v.cuda() for v in make_inputs())
    resident = copy.deepcopy(model).cuda()
    with torch.inference_mode():
        ref = resident(x, t, ctx)
    del resident
    offload = stream_blocks(model, "cuda", depth=1)
    blocks = [*model.blocks[0].parameters(), *model.blocks[0].buffers()]
    assert all(p.device.type == "cpu" and p.is_pinned() for p in blocks)
    assert model.patch_embedding.weight.is_cuda
    where = []
    for b in model.blocks:
        b.register_forward_pre_hook(
            lambda m, a: where.append(({p.device.type for p in m.parameters()}, offload.resident()))
        )
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    with torch.inference_mode():
        out = model(x, t, ctx)
    torch.cuda.synchronize()
    assert torch.equal(out, ref)
    assert all(devices == {"cuda"} and len(resident) <= 2 for devices, resident in where)
    # Block memory on the device: the two slots; activations of this tiny input are far below a slot.
    assert torch.cuda.max_memory_allocated() - base < 2 * offload.slot_bytes + 8 * 2**20
    offload.remove()
    assert all(p.device.type == "cpu" for p in model.parameters())


@pytest.mark.gpu
def test_cuda_graph_capture_is_refused():
    model = make_model().cuda()
    x, t, ctx = (v.cuda() for v in make_inputs())
    offload = stream_blocks(model, "cuda")
    graph = torch.cuda.CUDAGraph()
    with torch.no_grad(), pytest.raises(RuntimeError, match="cannot be captured in a CUDA graph"):
        with torch.cuda.graph(graph):
            model(x, t, ctx)
    offload.remove()


@pytest.mark.parametrize("fp8_rows", [False, True])
def test_fused_blocks_stream_like_resident_ones(fp8_rows):
    """The fused path hands each block's FFN update to the next block (PendingResidual) and, with
    Fp8RowLinear cross k/v, one quantised context to all blocks: both cross the offload's block hooks."""
    model = make_model()
    if fp8_rows:
        quantize_(model, Fp8RowConfig())
    model.enable_fused_ops()
    x, t, ctx = make_inputs()
    with torch.no_grad():
        ref = model(x, t, ctx)
        with stream_blocks(model, "cpu", depth=1) as offload:
            out = model(x, t, ctx)
            assert offload.resident() == []
    assert torch.equal(out, ref)
