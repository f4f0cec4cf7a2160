"""What text Locker accepts from users before it reaches the database or a response header.

The rules are regular expressions that Python's re and JSON Schema (ECMA 262) read
alike, so the API's schemas state them in the OpenAPI document as `pattern`
and the services check the very same ones.
"""
import re

# Control characters (Unicode category Cc: C0, DEL, C1) and the characters that reorder how text
# is displayed ("a\u202etxt.exe" shows as "aexe.txt"), as the inside of a character class.
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# The same, but tab, line feed and carriage return are fine (a message or note may have lines).
CONTROL_CHARACTERS_BUT_LINES = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
PLAIN_TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*$"
MULTILINE_TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS_BUT_LINES}]*$"
CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
PLAIN_TEXT = re.compile(PLAIN_TEXT_PATTERN)


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
    return is_encodable(value) and PLAIN_TEXT.fullmatch(value) is not None


def is_control(character):
    """True for a C0/C1 control character or one that reorders how text is displayed."""
    return CONTROL.fullmatch(character) is not None
