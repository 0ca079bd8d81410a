"""`import turbodiffusion` stays light; the public names resolve lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import turbodiffusion

from ..conftest import REPO


def test_import_is_light():
    code = (
        "import sys, turbodiffusion; print(sorted(m for m in ('torch', 'triton', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_lazy_names_resolve():
    from turbodiffusion.pipelines.pipeline import TurboPipeline

    assert turbodiffusion.TurboPipeline is TurboPipeline
    assert "builtin-random" in turbodiffusion.PRESETS
    assert set(turbodiffusion.__all__) <= set(dir(turbodiffusion))
    for name in turbodiffusion.__all__:
        getattr(turbodiffusion, name)
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        turbodiffusion.Nope  # noqa: B018
