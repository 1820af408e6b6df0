"""What the command line offers: the names and defaults of its choices.

This module imports nothing, so that `symbackprop --help`, `--version` and a bad option or
spec are answered without waiting for SymPy or NumPy (docs/performance.md, start-up). The
modules that implement each choice import its vocabulary from here.
"""

#: Every form of a derivation, in the order documents show them.
FORMS: tuple[str, ...] = ("chain", "symbolic", "simplified", "matrix", "index")
#: Array libraries gradient_fn compiles for and codegen writes (docs/numeric.md).
BACKENDS: tuple[str, ...] = ("numpy", "jax", "torch")
#: Default step of gradcheck's central differences.
GRADCHECK_STEP = 1e-5
#: Default largest relative error gradcheck still counts as agreement.
GRADCHECK_TOLERANCE = 1e-5
#: Entries gradcheck checks per parameter at most (a seeded random choice beyond that).
GRADCHECK_MAX_ENTRIES = 1000
#: Every section of a rendered document, in the order documents show them.
SECTIONS: tuple[str, ...] = (
    "network",
    "glossary",
    "sizes",
    "forward",
    "loss",
    "questions",
    "derivation",
    "numeric",
    "checks",
)
#: The forms a rendered document shows unless asked otherwise: the two a course uses most.
DEFAULT_FORMS: tuple[str, ...] = ("chain", "matrix")
#: Decimals of every number a rendered document shows, by default and at most.
DEFAULT_DIGITS = 4
MAX_DIGITS = 15
