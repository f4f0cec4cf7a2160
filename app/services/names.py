"""The rules for the name of a file or a folder, and how a name that is taken is numbered."""
import re
import unicodedata

from app.errors import InvalidInput
from app.text import CONTROL_CHARACTERS, is_plain_text

MAX_NAME_LENGTH = 255
# Characters no common file system accepts in a name; refusing them keeps every
# file downloadable to Windows, macOS and Linux alike.
FORBIDDEN_NAME_CHARACTERS = set('<>:"/\\|?*')
# The characters clean_name refuses, as the pattern the API's document gives for names.
NAME_PATTERN = f"^[^{re.escape(''.join(sorted(FORBIDDEN_NAME_CHARACTERS)))}{CONTROL_CHARACTERS}]+$"
WINDOWS_DEVICE_NAMES = {"con", "prn", "aux", "nul", *(f"com{n}" for n in range(1, 10)), *(f"lpt{n}" for n in range(1, 10))}
DOUBLE_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst")


def clean_name(name, kind="file"):
    """A display name for a file (or a folder) safe to store and send back, or InvalidInput saying what is wrong."""
    if not isinstance(name, str):
        raise InvalidInput(f"Give the {kind} a name.", code="invalid_name")
    if not is_plain_text(name):
        raise InvalidInput(f"{kind.capitalize()} names can't contain control characters or text-direction overrides.",
                           code="invalid_name")
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise InvalidInput(f"Give the {kind} a name.", code="invalid_name")
    forbidden = sorted(FORBIDDEN_NAME_CHARACTERS.intersection(name))
    if forbidden:
        raise InvalidInput(f"{kind.capitalize()} names can't contain any of < > : \" / \\ | ? * (this one has {' '.join(forbidden)}).",
                           code="invalid_name")
    if set(name) == {"."}:
        raise InvalidInput(f"A {kind} name can't be only dots.", code="invalid_name")
    if name.endswith("."):
        raise InvalidInput(f"{kind.capitalize()} names can't end with a dot.", code="invalid_name")
    if name.split(".")[0].strip().lower() in WINDOWS_DEVICE_NAMES:
        raise InvalidInput(f"{name.split('.')[0]} is a reserved device name on Windows; choose another name.",
                           code="invalid_name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{kind.capitalize()} names are at most {MAX_NAME_LENGTH} characters; this one has {len(name)}.",
                           code="invalid_name")
    return name



def split_extension(name):
    lowered = name.lower()
    for extension in DOUBLE_EXTENSIONS:
        if lowered.endswith(extension) and len(name) > len(extension):
            return name[:-len(extension)], name[-len(extension):]
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def numbered_names(wanted):
    """`wanted`, then "stem (1).ext", "stem (2).ext", ... each within MAX_NAME_LENGTH: the rule for a name taken."""
    yield wanted
    stem, extension = split_extension(wanted)
    number = 1
    while True:
        suffix = f" ({number})"
        # Keep at least one character of the stem; a very long extension gives way instead.
        kept_extension = extension[:MAX_NAME_LENGTH - len(suffix) - 1]
        yield stem[:MAX_NAME_LENGTH - len(suffix) - len(kept_extension)] + suffix + kept_extension
        number += 1
