"""ForwardGraphs: a sampling run through kept graphs equals the eager run, call after call.

On the CPU the graphs are a stand-in capture that re-runs the recorded forward on replay (on the graphs'
static inputs and cache, so a prompt or noise not copied in, or a cache not recomputed by the fill graph,
shows up as a wrong latent); on a GPU the real CUDA graphs are compared with eager sampling bit for bit.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from turbodiffusion.models.wan import TextContextCache, WanDiT, WanDiTConfig
from turbodiffusion.pipelines.builtin import random_state_dict
from turbodiffusion.pipelines.denoise import SamplingPlan, sample_latent
from turbodiffusion.pipelines.forward_graphs import ForwardGraphs
from turbodiffusion.pipelines.pipeline import TurboPipeline, check_cuda_graphs
from turbodiffusion.pipelines.residency import Residency

CONFIG = WanDiTConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=2, text_dim=32, text_len=8, freq_dim=32)
I2V_CONFIG = dataclasses.replace(CONFIG, model_type="i2v", in_dim=36)
# text_len 64: a 5-row context's padding is attended to as weighted keys (a key bias made in the forward).
PADDED_CONFIG = dataclasses.replace(CONFIG, text_len=64)
RCM = SamplingPlan("rcm", 4, 0, 80.0, False, 5.0, 5.0)
SHAPE = (1, 16, 2, 6, 8)


class RerunCapture:
    """Capture stand-in: runs the forward once (the capture's output), and again into it on each replay."""

    def __init__(self) -> None:
        self.captures = 0
        self.replays = 0

    def __call__(self, fn, pool):
        self.captures += 1
        out = fn()

        def replay() -> None:
            self.replays += 1
            out.copy_(fn())

        return replay, out, pool


def make_model(config: WanDiTConfig = CONFIG, device: str = "cpu", seed: int = 0) -> WanDiT:
    with torch.device("meta"):
        model = WanDiT(config)
    model.load_state_dict(random_state_dict(model, torch.Generator().manual_seed(seed)), assign=True)
    return model.eval().to(device)


def sample(model, context, plan, *, graphs=None, y=None, negative=None):
    residency = Residency(model.patch_embedding.weight.device)
    residency.add("dit", model, group="dit")
    with torch.inference_mode():
        latent, _ = sample_latent(
            residency, ("dit",), None, SHAPE, context, y, plan, input_dtype=torch.float32,
            negative_context=negative, graphs=graphs,
        )  # fmt: skip
    return latent


def contexts(n: int, device: str = "cpu") -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(1, 5, CONFIG.text_dim, generator=g).to(device) for _ in range(n)]


@pytest.mark.parametrize("config", [CONFIG, PADDED_CONFIG], ids=["plain-padding", "weighted-padding"])
def test_runs_through_kept_graphs_equal_eager_runs_with_new_prompts_and_seeds(config):
    model, capture = make_model(config), RerunCapture()
    graphs = ForwardGraphs(capture)
    for i, ctx in enumerate(contexts(3)):
        plan = SamplingPlan("rcm", 4, 10 + i, 80.0, False, 5.0, 5.0)
        assert torch.equal(sample(model, ctx, plan, graphs=graphs), sample(model, ctx, plan))
    # Captured during the first run only (its steps 1 and 2); runs 2 and 3 replay all four steps.
    assert capture.captures == 2 and len(graphs) == 2
    assert capture.replays == 2 + 4 + 4


def test_guidance_gives_each_context_its_own_graphs():
    model, capture = make_model(), RerunCapture()
    graphs = ForwardGraphs(capture)
    plan = SamplingPlan("euler", 3, 0, 80.0, False, 5.0, 4.0)
    cond, uncond, other = contexts(3)
    for ctx in (cond, other):
        got = sample(model, ctx, plan, graphs=graphs, negative=uncond)
        assert torch.equal(got, sample(model, ctx, plan, negative=uncond))
    assert capture.captures == 4  # fill and cached, for the prompt and for the negative prompt


def test_i2v_condition_is_copied_into_the_graphs_each_run():
    model, capture = make_model(I2V_CONFIG), RerunCapture()
    graphs = ForwardGraphs(capture)
    (ctx,) = contexts(1)
    g = torch.Generator().manual_seed(2)
    for _ in range(2):
        y = torch.randn(1, 20, *SHAPE[2:], generator=g)
        assert torch.equal(sample(model, ctx, RCM, graphs=graphs, y=y), sample(model, ctx, RCM, y=y))
    assert capture.captures == 2


def test_moved_weights_are_captured_anew():
    model, capture = make_model(), RerunCapture()
    graphs = ForwardGraphs(capture)
    ctx, other = contexts(2)
    sample(model, ctx, RCM, graphs=graphs)
    for p in model.parameters():  # what parking and reloading does: same values, new storage
        p.data = p.data.clone()
    assert torch.equal(sample(model, other, RCM, graphs=graphs), sample(model, other, RCM))
    assert capture.captures == 4


def test_another_shape_gets_its_own_graphs_and_a_changed_latent_is_refused():
    model, capture = make_model(), RerunCapture()
    graphs = ForwardGraphs(capture)
    ctx, longer = contexts(1)[0], torch.randn(1, 7, CONFIG.text_dim)
    sample(model, ctx, RCM, graphs=graphs)
    assert torch.equal(sample(model, longer, RCM, graphs=graphs), sample(model, longer, RCM))
    assert len(graphs) == 4
    with torch.inference_mode(), pytest.raises(ValueError, match="differ from the first call"):
        graphs.velocity(model, ctx, None)(torch.zeros(1, 16, 2, 6, 10), torch.zeros(1))
    graphs.clear()
    assert len(graphs) == 0 and graphs.pool_bytes == 0


def test_text_cache_copy_keeps_its_storage_and_refuses_other_shapes():
    model = make_model()
    ctx, other = contexts(2)
    x, t = torch.randn(SHAPE), torch.full((1,), 500.0)
    a, b, short = TextContextCache(ctx), TextContextCache(other), TextContextCache(ctx[:, :3])
    with torch.inference_mode():
        for cache in (a, b):
            model(x, t, cache, None)
        pointers = [k.data_ptr() for block in model.blocks for k in a.keys_values(block)]
        a.copy_(b)
        assert [k.data_ptr() for block in model.blocks for k in a.keys_values(block)] == pointers
        assert all(
            torch.equal(p, q)
            for block in model.blocks
            for p, q in zip(a.keys_values(block), b.keys_values(block))
        )
        assert torch.equal(a.embedded, b.embedded)
        with pytest.raises(ValueError, match="same model's forward"):
            a.copy_(short)  # never filled


def test_cuda_graphs_are_refused_where_they_cannot_be_kept():
    cuda = torch.device("cuda")
    check_cuda_graphs(True, cuda, None, 1)
    check_cuda_graphs(False, torch.device("cpu"), "blocks", 2)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        TurboPipeline.from_pretrained("builtin-random", device="cpu", cuda_graphs=True)
    with pytest.raises(ValueError, match="offload='model'"):
        check_cuda_graphs(True, cuda, "model", 1)
    with pytest.raises(ValueError, match="two experts"):
        check_cuda_graphs(True, cuda, None, 2)


@pytest.mark.gpu
@pytest.mark.parametrize("config", [CONFIG, PADDED_CONFIG], ids=["plain-padding", "weighted-padding"])
def test_cuda_graph_runs_equal_eager_runs_bit_for_bit(config):
    model, graphs = make_model(config, device="cuda"), ForwardGraphs()
    for i, ctx in enumerate(contexts(3, "cuda")):
        plan = SamplingPlan("rcm", 4, i, 80.0, False, 5.0, 5.0)
        assert torch.equal(sample(model, ctx, plan, graphs=graphs), sample(model, ctx, plan))
    assert len(graphs) == 2 and graphs.pool_bytes > 0


@pytest.mark.gpu
def test_pipeline_with_cuda_graphs_makes_the_eager_pipelines_frames():
    eager = TurboPipeline.from_pretrained("builtin-random", device="cuda")
    graphed = TurboPipeline.from_pretrained("builtin-random", device="cuda", cuda_graphs=True)
    for seed, prompt in enumerate(("a red circle", "a blue square moving left", "a red circle")):
        want = eager(prompt, seed=seed, progress=False).frames
        assert torch.equal(graphed(prompt, seed=seed, progress=False).frames, want)
    assert len(graphed.graphs) == 2


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA GPUs")
def test_graphs_on_a_second_gpu_while_the_first_is_current():
    # Graphs capture and replay on the current device's streams; the pipeline makes its own device current
    # around them, so a pipeline on cuda:1 must not capture onto cuda:0's stream (or fail to).
    assert torch.cuda.current_device() == 0
    first_gpu_bytes = torch.cuda.memory_allocated(0)
    eager = TurboPipeline.from_pretrained("builtin-random", device="cuda:1")
    graphed = TurboPipeline.from_pretrained("builtin-random", device="cuda:1", cuda_graphs=True)
    for seed, prompt in enumerate(("a red circle", "a blue square moving left", "a red circle")):
        want = eager(prompt, seed=seed, progress=False).frames
        assert torch.equal(graphed(prompt, seed=seed, progress=False).frames, want)
    assert len(graphed.graphs) == 2 and torch.cuda.current_device() == 0
    assert torch.cuda.memory_allocated(0) == first_gpu_bytes  # nothing of either pipeline is on cuda:0
