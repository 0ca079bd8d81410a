"""A generation that runs out of device memory: the error names the settings that need less, and the
pipeline still works afterwards."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.errors import DeviceMemoryError
from turbodiffusion.pipelines import TurboPipeline
from turbodiffusion.pipelines import pipeline as pipeline_module
from turbodiffusion.pipelines.out_of_memory import device_memory_error, ways_to_need_less

SMALL = dict(num_frames=5, height=48, width=64, progress=False)
SIZE = "fewer frames or a smaller size than 81 frames of 1280x720"


@pytest.mark.parametrize(
    ("offload", "quant", "fp8", "want"),
    [
        (None, None, True, ['offload="model"', 'quant="fp8-row"', 'offload="blocks"', SIZE]),
        (None, None, False, ['offload="model"', 'quant="int8"', 'offload="blocks"', SIZE]),
        ("model", None, True, ['quant="fp8-row"', 'offload="blocks"', SIZE]),
        ("model", "int8", True, ['offload="blocks"', SIZE]),
        ("blocks", "fp8-row", True, [SIZE]),
    ],
)
def test_ways_cheapest_first_and_only_those_not_taken(offload, quant, fp8, want):
    ways = ways_to_need_less(offload, quant, fp8, 81, 720, 1280)
    assert len(ways) == len(want)
    assert all(way.startswith(w) for way, w in zip(ways, want)), ways


def test_the_error_is_a_runtime_error_naming_size_and_ways():
    err = device_memory_error(torch.device("cpu"), None, "int8", 33, 256, 256)
    assert isinstance(err, DeviceMemoryError) and isinstance(err, RuntimeError)
    text = str(err)
    assert text.startswith("cpu ran out of memory making 33 frames of 256x256. To need less: ")
    assert 'offload="model" (generate --offload)' in text and "--offload blocks" in text
    assert "--quant" not in text  # already 8-bit


@pytest.mark.parametrize(("capability", "mode"), [((9, 0), "fp8-row"), ((8, 0), "int8")])
def test_on_a_gpu_the_error_gives_its_memory_and_its_8_bit_mode(monkeypatch, capability, mode):
    # The CUDA branch with the driver's answers stubbed, so it runs on the CPU too (the GPU test below
    # makes a real out-of-memory).
    emptied = []
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (3 * 2**30, 24 * 2**30))
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: capability)
    err = device_memory_error(torch.device("cuda:1"), None, None, 81, 480, 832)
    assert emptied, "the cache must be emptied before free memory is read"
    assert str(err).startswith(
        "cuda:1 ran out of memory making 81 frames of 832x480 (24.0 GiB in all, 3.0 GiB free now). To need "
        'less: offload="model"'
    )
    assert f'quant="{mode}" (generate --quant {mode})' in str(err)


def test_an_out_of_memory_mid_generation_is_explained_and_the_pipeline_survives(monkeypatch):
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cpu")
    before = pipe("a red circle", seed=1, **SMALL).frames
    original = pipeline_module.sample_latent
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    def fail(*args, **kwargs):
        raise oom

    monkeypatch.setattr(pipeline_module, "sample_latent", fail)
    with pytest.raises(DeviceMemoryError) as err:
        pipe("a red circle", seed=1, **SMALL)
    assert err.value.__cause__ is oom
    assert "making 5 frames of 64x48" in str(err.value) and 'offload="model"' in str(err.value)
    monkeypatch.setattr(pipeline_module, "sample_latent", original)
    assert torch.equal(pipe("a red circle", seed=1, **SMALL).frames, before)


@pytest.mark.gpu
def test_a_real_out_of_memory_on_the_gpu_names_its_memory(monkeypatch):
    pipe = TurboPipeline.from_pretrained("builtin-random", device="cuda")

    def too_big(*args, **kwargs):
        return torch.empty(1 << 50, dtype=torch.uint8, device="cuda")  # a petabyte: torch's own OOM

    monkeypatch.setattr(pipeline_module, "sample_latent", too_big)
    with pytest.raises(DeviceMemoryError) as err:
        pipe("a red circle", seed=1, **SMALL)
    assert isinstance(err.value.__cause__, torch.OutOfMemoryError)
    text = str(err.value)
    total = torch.cuda.get_device_properties(0).total_memory / 2**30
    assert f"cuda ran out of memory making 5 frames of 64x48 ({total:.1f} GiB in all, " in text, text
    mode = "fp8-row" if torch.cuda.get_device_capability() >= (8, 9) else "int8"
    assert f'quant="{mode}"' in text
