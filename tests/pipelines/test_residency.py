"""Residency: which module sits on the compute device, tracked with device-recording fakes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from turbodiffusion.pipelines.block_offload import BlockOffload
from turbodiffusion.pipelines.residency import Residency, expert_group, keeps_everything, module_bytes


class Tracked(nn.Module):
    """Records every .to(device) instead of moving (so "cuda" works on a CPU-only machine)."""

    def __init__(self) -> None:
        super().__init__()
        self.place = "cpu"
        self.moves: list[str] = []

    def to(self, device):
        self.place = str(torch.device(device))
        self.moves.append(self.place)
        return self


def make(offload: bool = False):
    r = Residency("cuda:0", offload=offload)
    mods = {n: Tracked() for n in ("text", "vae", "high", "low")}
    r.add("text", mods["text"], keep=False)
    r.add("vae", mods["vae"])
    r.add("high", mods["high"], group="dit")
    r.add("low", mods["low"], group="dit")
    return r, mods


def test_text_encoder_leaves_after_use():
    r, m = make()
    with r.use("text") as mod:
        assert mod is m["text"] and m["text"].place == "cuda:0"
        assert r.on_device() == ["text"]
    assert m["text"].place == "cpu" and r.on_device() == []


def test_experts_are_exclusive():
    r, m = make()
    r.activate("high")
    assert m["high"].place == "cuda:0" and m["low"].place == "cpu"
    r.activate("low")
    assert m["high"].place == "cpu" and m["low"].place == "cuda:0"
    assert r.on_device() == ["low"]
    # the high expert was parked before the low one arrived: never two on the device
    assert r.events[-2:] == [("high", "park"), ("low", "device")]


def test_kept_modules_stay_without_offload():
    r, m = make(offload=False)
    with r.use("vae"):
        pass
    with r.use("vae"):
        pass
    assert m["vae"].moves == ["cuda:0"]
    assert r.on_device() == ["vae"]


def test_offload_parks_everything_after_use():
    r, m = make(offload=True)
    with r.use("vae"):
        assert r.on_device() == ["vae"]
    r.activate("high")
    r.release("high")
    assert r.on_device() == []
    assert m["vae"].moves == ["cuda:0", "cpu"] and m["high"].moves == ["cuda:0", "cpu"]


def test_duplicate_name_refused():
    r, _ = make()
    with pytest.raises(ValueError, match="already registered"):
        r.add("vae", Tracked())


@pytest.mark.gpu
def test_cuda_park_uses_pinned_buffers_and_keeps_values():
    g = torch.Generator().manual_seed(11)
    lin = nn.Linear(37, 19)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(19, 37, generator=g))
    ref = {k: v.clone() for k, v in lin.state_dict().items()}
    r = Residency("cuda", offload=True)
    r.add("lin", lin)
    for _ in range(2):  # the second park reuses the same pinned buffers
        with r.use("lin") as mod:
            assert mod.weight.is_cuda
        assert all(p.device.type == "cpu" and p.is_pinned() for p in lin.parameters())
        assert all(torch.equal(lin.state_dict()[k], v) for k, v in ref.items())
    assert len(r._entries["lin"].pinned) == 2


class Streamable(nn.Module):
    """A trunk (head) and two blocks: the shape BlockOffload needs."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3, 3)
        self.blocks = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])


def test_streamed_entry_moves_only_the_trunk():
    model = Streamable()
    offload = BlockOffload(model, "cpu")
    r = Residency("cpu", offload=True)
    r.add("dit", model, streamed=offload)
    with r.use("dit"):
        assert offload.active and r.on_device() == ["dit"]
        assert offload.resident() == []  # blocks come in only while the model runs
    assert not offload.active and r.events == [("dit", "device"), ("dit", "park")]


def test_streamed_must_belong_to_the_module():
    r = Residency("cpu")
    with pytest.raises(ValueError, match="must be the BlockOffload installed on 'dit' itself"):
        r.add("dit", Streamable(), streamed=BlockOffload(Streamable(), "cpu"))


def test_module_bytes_counts_shared_tensors_once():
    a, b = nn.Linear(4, 8), nn.Linear(8, 2, bias=False).to(torch.bfloat16)
    b2 = nn.Sequential(b)  # the same tensors again
    assert module_bytes(a) == (32 + 8) * 4
    assert module_bytes(a, b, b2) == (32 + 8) * 4 + 16 * 2


@pytest.mark.parametrize(("weights", "device", "keep"), [(40, 80, True), (41, 80, False), (0, 0, True)])
def test_keeps_everything_when_weights_take_at_most_half(weights, device, keep):
    assert keeps_everything(weights * 2**30, device * 2**30) is keep


@pytest.mark.parametrize(
    ("weights_gib", "device_gib", "group"),
    [(29, 140, None), (58, 140, None), (58, 80, "dit"), (29, 80, None), (29, 0, "dit")],
    ids=["a14b-fp8-h200", "a14b-bf16-h200", "a14b-bf16-h100", "a14b-fp8-h100", "cpu"],
)
def test_experts_take_turns_only_when_they_do_not_both_fit(weights_gib, device_gib, group):
    assert expert_group(weights_gib * 2**30, device_gib * 2**30) == group
