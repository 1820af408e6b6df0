"""The spec layer: YAML (or a dict) in, a validated, frozen NetworkSpec out; no SymPy here."""

from symbackprop.spec.errors import SpecError
from symbackprop.spec.loader import load_spec
from symbackprop.spec.model import (
    ACTIVATIONS,
    LOSSES,
    REDUCTIONS,
    SAMPLE_LAYOUTS,
    WEIGHT_ORIENTATIONS,
    Activation,
    Convention,
    Layer,
    Loss,
    NetworkSpec,
    Notation,
    Tensor,
    Training,
)

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "REDUCTIONS",
    "SAMPLE_LAYOUTS",
    "WEIGHT_ORIENTATIONS",
    "Activation",
    "Convention",
    "Layer",
    "Loss",
    "NetworkSpec",
    "Notation",
    "SpecError",
    "Tensor",
    "Training",
    "load_spec",
]
