"""Training: flow matching, SLA fine-tuning, rCM distillation, merging; FSDP2, Ulysses, DCP resume.

Submodules are imported on use (``from turbodiffusion.training.rcm import scm_loss``); importing this
package does no work and needs no optional dependency.
"""
