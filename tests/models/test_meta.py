"""on_meta: modules built with their shapes, no values and no initialisers run."""

from __future__ import annotations

import subprocess
import sys

import torch
from torch import nn

from turbodiffusion.models.meta import on_meta
from turbodiffusion.models.minilm import MiniLMEncoder
from turbodiffusion.models.umt5 import UMT5Encoder

from .test_minilm import TINY as TINY_MINILM
from .test_umt5 import TINY as TINY_UMT5


def test_modules_built_on_meta_have_the_shapes_of_a_plain_build():
    for build in (lambda: MiniLMEncoder(TINY_MINILM), lambda: UMT5Encoder(TINY_UMT5)):
        with on_meta():
            empty = build()
        plain = build()
        assert all(t.is_meta for t in empty.state_dict().values())
        assert {k: (v.shape, v.dtype) for k, v in empty.state_dict().items()} == {
            k: (v.shape, v.dtype) for k, v in plain.state_dict().items()
        }


def test_only_meta_tensors_skip_their_fills_and_only_inside_the_block():
    with on_meta():
        host = torch.zeros(3, device="cpu")
        host.add_(1)
        assert torch.equal(host, torch.ones(3, device="cpu"))
        nn.init.normal_(host, generator=torch.Generator().manual_seed(0))  # a real tensor: initialised
        assert torch.equal(host, torch.randn(3, generator=torch.Generator().manual_seed(0), device="cpu"))
        assert torch.ones(2).is_meta
    after = torch.zeros(2)
    after.add_(1)
    assert torch.equal(after, torch.ones(2)) and not after.is_meta


def test_building_an_embedding_on_meta_does_not_import_torch_dynamo():
    # A fresh interpreter: torch._dynamo may already be imported in this one. Importing it costs about 1 s
    # of a CPU machine's start-up, which nn.Embedding's normal_ on a meta tensor triggered.
    code = (
        "import sys, torch\n"
        "from turbodiffusion.models.meta import on_meta\n"
        "with on_meta():\n"
        "    torch.nn.Embedding(10, 4); torch.nn.init.trunc_normal_(torch.empty(3, 3))\n"
        "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
