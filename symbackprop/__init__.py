"""symbackprop: backpropagation derivations from a YAML network spec, checked with numbers.

    import symbackprop as sbp
    net = sbp.load("specs/mlp.yaml")
    der = net.derive()
    der.grad("W_1").matrix, der.delta("1").latex()

The names below are imported on first use, so that `symbackprop --help` and a spec's
error message do not wait for SymPy and NumPy to load (docs/performance.md).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symbackprop.api import Derivation, Network, Target, UnknownTarget, load
    from symbackprop.options import FORMS
    from symbackprop.spec import SpecError
    from symbackprop.verify import VerifyResult

#: Each public name and the module it comes from.
_HOMES = {
    "FORMS": "symbackprop.options",
    "Derivation": "symbackprop.api",
    "Network": "symbackprop.api",
    "Target": "symbackprop.api",
    "UnknownTarget": "symbackprop.api",
    "load": "symbackprop.api",
    "SpecError": "symbackprop.spec.errors",
    "VerifyResult": "symbackprop.verify.result",
}

__all__ = ["FORMS", "Derivation", "Network", "SpecError", "Target", "UnknownTarget", "VerifyResult", "load"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'symbackprop' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
