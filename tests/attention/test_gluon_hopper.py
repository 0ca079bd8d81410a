"""The Triton release gate of the sm_90 Gluon kernels: older releases fall back to the portable kernels."""

from __future__ import annotations

import subprocess
import sys

import triton

from turbodiffusion.kernel_device import gluon_hopper_available, triton_release


def test_an_older_triton_turns_the_gluon_kernels_off():
    # A fresh interpreter, so that the gate runs at import as it would on a machine with Triton 3.5 (this
    # file must not import gluon_hopper itself: on such a machine that import fails).
    script = (
        "import triton; triton.__version__ = '3.5.1'\n"
        "from turbodiffusion.attention.sage.kernel import gluon_hopper_available\n"
        "assert not gluon_hopper_available() and not gluon_hopper_available()\n"
        "assert gluon_hopper_available.cache_info().hits == 1, 'a failed import is not tried again'\n"
        "try:\n"
        "    import turbodiffusion.attention.gluon_hopper\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == (
        "the sm_90 Gluon kernels need Triton >= 3.6 (found 3.5.1); the portable Triton kernels run instead"
    )


def test_this_triton_has_the_gluon_kernels_from_3_6_on():
    assert gluon_hopper_available() == (triton_release(triton.__version__) >= (3, 6))
