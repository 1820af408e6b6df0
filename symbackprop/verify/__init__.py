"""Grading student formulas: `Verifier(net).verify(target, answer)` (or `net.verify(...)`).

parser.py reads LaTeX or plain math into a syntax tree; resolve.py gives it meaning in one
network; points.py and entries.py compute both sides at seeded random points; mutations.py
and feedback.py name the mistake; batch.py grades a CSV in a pool of worker processes.
"""

from symbackprop.verify.lexer import AnswerSyntaxError
from symbackprop.verify.result import VERDICTS, Credit, Hint, VerifyResult
from symbackprop.verify.verifier import Verifier

__all__ = ["VERDICTS", "AnswerSyntaxError", "Credit", "Hint", "Verifier", "VerifyResult"]
