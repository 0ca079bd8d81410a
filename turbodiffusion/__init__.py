"""TurboDiffusion: few-step, low-bit, sparse-attention video diffusion for Wan-class models.

``import turbodiffusion`` needs neither Triton nor a GPU and does no work.
"""

__version__ = "0.1.0"
