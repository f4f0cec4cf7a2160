"""What text Locker accepts from users before it reaches the database or a response header."""
import unicodedata

# Characters that reorder how text is displayed: "a\u202etxt.exe" shows as "aexe.txt".
BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_encodable(value):
    """True for a str that can be stored and hashed as UTF-8 (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain_text(value):
    """True for a str that is valid Unicode without control or display-reordering characters.

    Rejects NUL (PostgreSQL refuses it), lone surrogates (not encodable as
    UTF-8), C0/C1 controls and bidirectional overrides.
    """
    return is_encodable(value) and not any(is_control(c) for c in value)


def is_control(character):
    """True for a C0/C1 control character or one that reorders how text is displayed."""
    return unicodedata.category(character) == "Cc" or character in BIDI_CONTROLS
