"""Any character a user writes, as something a document shows: LaTeX that every TeX installation
builds (pdflatex with T1 fonts), and Markdown text that stays text.

A spec's name, description and layer names may hold any Unicode character. pdflatex stops with
"Unicode character ... not set up for use with LaTeX" on a character its fonts lack, so a
character outside the ones LaTeX's T1 and TS1 encodings declare (accented Latin letters,
typographic quotes and dashes, the euro sign ...) becomes a math symbol where it is one (Greek
letters, the set symbols, arrows), else its ASCII transliteration (ǎ -> a, ｘ -> x, ﬁ -> fi),
else its code point in brackets ([U+7F51] for 网, [U+1F600] for an emoji). Invisible characters
that change how text reads (right-to-left overrides, zero-width joiners, control characters)
are shown by code point in both formats.
"""

from __future__ import annotations

import unicodedata

# The code points above ASCII that LaTeX's t1enc.dfu, ts1enc.dfu and omsenc.dfu declare for
# pdflatex (LaTeX 2020 and later load TS1 themselves), as inclusive ranges.
_DECLARED = (
    (0x00A0, 0x00B7),
    (0x00B9, 0x0125),
    (0x0128, 0x0137),
    (0x0139, 0x013E),
    (0x0141, 0x0148),
    (0x014A, 0x0165),
    (0x0168, 0x017E),
    (0x0192, 0x0192),
    (0x01C4, 0x01D4),
    (0x01E2, 0x01E3),
    (0x01E6, 0x01EB),
    (0x01F0, 0x01F0),
    (0x01F4, 0x01F5),
    (0x0218, 0x021B),
    (0x0232, 0x0233),
    (0x0237, 0x0237),
    (0x02C7, 0x02C7),
    (0x02D8, 0x02D9),
    (0x02DB, 0x02DB),
    (0x02DD, 0x02DD),
    (0x1E02, 0x1E03),
    (0x1E0D, 0x1E0D),
    (0x1E1E, 0x1E21),
    (0x1E25, 0x1E25),
    (0x1E30, 0x1E31),
    (0x1E37, 0x1E37),
    (0x1E43, 0x1E43),
    (0x1E45, 0x1E45),
    (0x1E47, 0x1E47),
    (0x1E5B, 0x1E5B),
    (0x1E63, 0x1E63),
    (0x1E6D, 0x1E6D),
    (0x1E8E, 0x1E91),
    (0x1E9E, 0x1E9E),
    (0x1EF2, 0x1EF3),
    (0x2010, 0x2016),
    (0x2018, 0x201A),
    (0x201C, 0x201E),
    (0x2020, 0x2022),
    (0x2030, 0x2031),
    (0x2039, 0x203B),
    (0x203D, 0x203D),
    (0x2044, 0x2044),
    (0x204E, 0x204E),
    (0x2052, 0x2052),
    (0x20AC, 0x20AC),
    (0x2103, 0x2103),
    (0x2116, 0x2117),
    (0x2122, 0x2122),
    (0x2126, 0x2127),
    (0x212E, 0x212E),
    (0x2190, 0x2193),
    (0x2422, 0x2423),
    (0x25E6, 0x25E6),
    (0x25EF, 0x25EF),
    (0x266A, 0x266A),
    (0x27E8, 0x27E9),
    (0x3008, 0x3009),
    (0xFB00, 0xFB06),
)
_GREEK = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi o pi rho varsigma sigma tau "
    "upsilon phi chi psi omega"
).split()
#: Math symbols written as LaTeX math (amsmath and amssymb are in every template's preamble).
_MATH = {
    **{chr(0x03B1 + i): ("o" if name == "o" else "\\" + name) for i, name in enumerate(_GREEK)},
    "Γ": r"\Gamma",
    "Δ": r"\Delta",
    "Θ": r"\Theta",
    "Λ": r"\Lambda",
    "Ξ": r"\Xi",
    "Π": r"\Pi",
    "Σ": r"\Sigma",
    "Υ": r"\Upsilon",
    "Φ": r"\Phi",
    "Ψ": r"\Psi",
    "Ω": r"\Omega",
    "ϑ": r"\vartheta",
    "ϕ": r"\phi",
    "ϵ": r"\epsilon",
    "∀": r"\forall",
    "∃": r"\exists",
    "∈": r"\in",
    "∉": r"\notin",
    "∋": r"\ni",
    "∑": r"\sum",
    "∏": r"\prod",
    "∂": r"\partial",
    "∇": r"\nabla",
    "∞": r"\infty",
    "≤": r"\le",
    "≥": r"\ge",
    "≠": r"\neq",
    "≈": r"\approx",
    "≡": r"\equiv",
    "∼": r"\sim",
    "⊙": r"\odot",
    "∘": r"\circ",
    "⊗": r"\otimes",
    "⊕": r"\oplus",
    "⋅": r"\cdot",
    "⇒": r"\Rightarrow",
    "⇔": r"\Leftrightarrow",
    "↦": r"\mapsto",
    "√": r"\surd",
    "∫": r"\int",
    "′": r"\prime",
    "⊤": r"\top",
    "⊥": r"\bot",
    "∪": r"\cup",
    "∩": r"\cap",
    "⊂": r"\subset",
    "⊆": r"\subseteq",
    "∧": r"\wedge",
    "∨": r"\vee",
    "∅": r"\emptyset",
    "ℓ": r"\ell",
    "ℝ": r"\mathbb{R}",
    "ℕ": r"\mathbb{N}",
    "ℤ": r"\mathbb{Z}",
    "ℚ": r"\mathbb{Q}",
    "ℂ": r"\mathbb{C}",
    "−": "-",
    "∗": r"\ast",
    "⟨": r"\langle",
    "⟩": r"\rangle",
}
#: Categories of characters that are invisible or not characters at all.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _declared(code: int) -> bool:
    return any(low <= code <= high for low, high in _DECLARED)


def code_point(char: str) -> str:
    """How a character no font here shows is written: its code point."""
    return f"U+{ord(char):04X}"


def hidden(char: str) -> bool:
    """A character that is invisible or changes how the text around it reads (not tab or newline)."""
    return char not in "\t\n" and unicodedata.category(char) in _HIDDEN


def latex_char(char: str, escape: dict[str, str]) -> str:
    """One character of user text as LaTeX; `escape` maps the ASCII characters LaTeX reads as markup."""
    if char in escape:
        return escape[char]
    code = ord(char)
    if 32 <= code < 127:
        return char
    if hidden(char):
        return "{[}" + code_point(char) + "{]}"
    if _declared(code):
        return char
    if char in _MATH:
        return r"\ensuremath{" + _MATH[char] + "}"
    plain = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if plain and all(32 <= ord(c) < 127 for c in plain):
        return "".join(escape.get(c, c) for c in plain)
    return "{[}" + code_point(char) + "{]}"


def visible(text: str) -> str:
    """Text with its hidden characters shown by code point ([U+202E]), for Markdown."""
    return "".join(f"[{code_point(char)}]" if hidden(char) else char for char in text)
