"""symbackprop: backpropagation derivations from a YAML network spec, checked with numbers.

    import symbackprop as sbp
    net = sbp.load("specs/mlp.yaml")
    der = net.derive()
    der.grad("W_1").matrix, der.delta("1").latex()
"""

from symbackprop.api import FORMS, Derivation, Network, Target, UnknownTarget, load
from symbackprop.spec import SpecError
from symbackprop.verify import VerifyResult

__all__ = ["FORMS", "Derivation", "Network", "SpecError", "Target", "UnknownTarget", "VerifyResult", "load"]
__version__ = "0.1.0"
