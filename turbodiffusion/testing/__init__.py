"""Helpers for checking TurboDiffusion against references: metrics, tolerances, the golden runner."""
