"""The one normalisation both identifiers and both paths (scalar and bulk) apply before checking.

Department files carry identifiers typed by people: full-width digits from a Chinese input
method (``３３０１``), a lower-case ``x``, spaces between groups, a full-width space, a zero-width
space from a web page. The rules, in order:

1. Unicode NFKC, which folds full-width forms (``０``-``９``, ``Ｘ``, ``ｘ``, U+3000) to ASCII.
   It runs through Arrow's utf8proc on *both* paths: Python 3.11's :mod:`unicodedata` follows
   Unicode 14.0 and utf8proc a newer version, and 167 code points normalise differently between
   them, so one engine is the only way the scalar and bulk paths agree on every input.
   Pure-ASCII values skip it (NFKC does not change ASCII).
2. Remove separators: ASCII whitespace (after NFKC the full-width and no-break spaces are plain
   spaces), the hyphen-minus (python-stdnum's USCC ``compact`` removes it too, and the old
   organisation code inside a USCC was written ``60003734-1``) and the invisible format characters
   copy and paste leaves behind (zero-width space and joiners, word joiner, byte-order mark).
   Other punctuation, including other dashes, is reported as ``bad_character``.
3. Upper-case ASCII letters only (``x`` -> ``X``). Other letters are bad characters anyway, and
   ``str.upper`` could change the length (``ß`` -> ``SS``) and so the positions errors report.

>>> compact_text("３３０１ ０６\u300019491231-002ｘ")
'33010619491231002X'
"""

from __future__ import annotations

from string import ascii_lowercase, ascii_uppercase

import pyarrow as pa
import pyarrow.compute as pc

from exchange.identifiers.errors import BadCharacter, MissingValue

#: Characters removed wherever they appear (after NFKC).
SEPARATORS = " -\t\n\r\x0b\x0c\u200b\u200c\u200d\u2060\ufeff"

_TRANSLATION = str.maketrans(ascii_lowercase, ascii_uppercase, SEPARATORS)
_SEPARATOR_PATTERN = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SEPARATORS) + "]"


def compact_text(value: object) -> str:
    """Normalise one value; raise ``MissingValue`` for ``None`` and ``BadCharacter`` for a
    non-string or a string Arrow cannot hold (a lone surrogate)."""
    if value is None:
        raise MissingValue("no value")
    if not isinstance(value, str):
        raise BadCharacter(f"expected text, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadCharacter(
                f"character {exc.start + 1} is a lone surrogate {value[exc.start]!r}",
                position=exc.start + 1,
            ) from None
        value = pc.utf8_normalize(pa.scalar(value, pa.string()), "NFKC").as_py()
    return value.translate(_TRANSLATION)


def compact_array(values: pa.Array) -> pa.Array:
    """Normalise a string array (no nulls expected) the way :func:`compact_text` does one value."""
    if not pc.all(pc.string_is_ascii(values)).as_py():
        values = pc.utf8_normalize(values, "NFKC")
    values = pc.replace_substring_regex(values, _SEPARATOR_PATTERN, "")
    return pc.ascii_upper(values)
