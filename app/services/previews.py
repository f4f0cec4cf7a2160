"""Previews: which files a browser may show inline, and what it is shown.

The decision rests on the type read from the stored bytes when the upload
completed (File.sniffed_type), never on the uploader's name or declared type:
those only tell text flavours apart, and can only ever take a preview away.
Only the allow-list below is served inline. HTML, SVG, XML, JavaScript and
anything unrecognised go out as attachments, as application/octet-stream when
the bytes or the claim are active content.
"""
import codecs
import logging
from dataclasses import dataclass

import filetype
from flask import current_app

from app.extensions import db
from app.models import File, FileStatus, utcnow
from app.services.common import refuse_damaged, storage_call
from app.storage import StorageError, get_storage

log = logging.getLogger(__name__)

# filetype looks at most at the first 8 KiB; the text and markup checks need no more.
SNIFF_BYTES = 8192
SNIFF_BATCH = 500
TEXT_PREVIEW_BYTES = 256 * 1024
TEXT_TYPE = "text/plain; charset=utf-8"
# Sniffed type -> (preview kind, the type it is served inline as).
INLINE_TYPES = {
    "image/png": ("image", "image/png"),
    "image/apng": ("image", "image/apng"),
    "image/jpeg": ("image", "image/jpeg"),
    "image/gif": ("image", "image/gif"),
    "image/webp": ("image", "image/webp"),
    "image/avif": ("image", "image/avif"),
    "image/bmp": ("image", "image/bmp"),
    "application/pdf": ("pdf", "application/pdf"),
    "audio/mpeg": ("audio", "audio/mpeg"),
    "audio/ogg": ("audio", "audio/ogg"),
    "audio/x-wav": ("audio", "audio/wav"),
    "audio/x-flac": ("audio", "audio/flac"),
    "audio/mp4": ("audio", "audio/mp4"),
    "video/mp4": ("video", "video/mp4"),
    "video/webm": ("video", "video/webm"),
    "text/plain": ("text", TEXT_TYPE),
}
KINDS = tuple(dict.fromkeys(kind for kind, _ in INLINE_TYPES.values()))  # image, pdf, audio, video, text
# Declared types that, even as attachments, never go to a browser under their own name.
ACTIVE_CONTENT_TYPES = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
                        "text/javascript", "application/javascript", "application/ecmascript", "text/ecmascript"}
# Sniffed types that a browser would run as a page or script.
ACTIVE_SNIFFED_TYPES = {"text/html", "text/xml", "image/svg+xml"}
# Names that say page, markup or script: never inline, whatever the bytes look like.
ACTIVE_EXTENSIONS = {".html", ".htm", ".xhtml", ".xht", ".shtml", ".mht", ".mhtml", ".hta", ".svg", ".svgz",
                     ".xml", ".xsl", ".xslt", ".rss", ".atom", ".js", ".mjs", ".cjs", ".jsx"}
TEXT_EXTENSIONS = {
    ".txt", ".text", ".md", ".markdown", ".rst", ".adoc", ".org", ".csv", ".tsv", ".log", ".json", ".jsonl",
    ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".env", ".properties", ".diff", ".patch", ".tex", ".srt",
    ".vtt", ".py", ".pyi", ".rb", ".go", ".rs", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".java", ".kt", ".kts",
    ".swift", ".scala", ".php", ".pl", ".lua", ".r", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".sql",
    ".css", ".scss", ".ts", ".dart", ".ex", ".exs", ".erl", ".hs", ".ml", ".clj", ".nim", ".zig", ".gradle",
    ".dockerfile", ".gitignore", ".editorconfig",
}
TEXT_DECLARED_TYPES = {
    "text/plain", "text/markdown", "text/x-markdown", "text/csv", "text/tab-separated-values", "text/x-log",
    "text/x-python", "text/x-c", "text/x-sh", "text/x-diff", "text/x-rst", "application/json", "application/yaml",
    "application/x-yaml", "application/toml", "application/x-sh", "application/sql",
}
# How HTML starts, after the WHATWG MIME sniffing standard's "unknown type" patterns.
HTML_OPENINGS = (b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div", b"<font", b"<table", b"<a",
                 b"<style", b"<title", b"<b", b"<body", b"<br", b"<p")
TAG_ENDS = (b" ", b">", b"\t", b"\n", b"\r", b"\x0c", b"/")


@dataclass
class Preview:
    kind: str
    url: str
    text: str | None = None
    shown_bytes: int = 0  # of a text file, how many bytes `text` comes from
    truncated: bool = False


def sniff(head, size):
    """The type of a file from its first bytes (`head`) and full size; None when not recognised."""
    match = filetype.guess(head)
    if match is not None:
        return match.mime
    markup = markup_type(head)
    if markup:
        return markup
    if b"\x00" in head:
        return None
    try:
        # A head cut short of the whole file may end inside a character.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) >= size)
    except UnicodeDecodeError:
        return None
    return "text/plain"


def markup_type(head):
    """text/html, text/xml or image/svg+xml when the bytes open like a page or markup, else None."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\n\r\x0c").lower()
    if b"<svg" in start[:SNIFF_BYTES] and start.startswith((b"<?xml", b"<!", b"<svg")):
        return "image/svg+xml"
    if start.startswith(b"<?xml"):
        return "text/xml"
    if start.startswith(b"<!"):  # a doctype or a comment
        return "text/html"
    for opening in HTML_OPENINGS:
        if start.startswith(opening) and start[len(opening):len(opening) + 1] in TAG_ENDS:
            return "text/html"
    return None


def stored_type(storage_key, size, storage=None):
    """The type of a stored file, from its first bytes; StorageError when storage can't read them.

    `storage` lets a thread without the app's context ask.
    """
    return sniff((storage or get_storage()).read_head(storage_key, SNIFF_BYTES), size)


def type_or_none(storage_key, size, reading=None):
    """stored_type, or None (no preview) when storage can't read the bytes right now; `flask locker sniff` retries.

    `reading` is a Future of stored_type already under way, to wait for instead of asking again.
    """
    try:
        return reading.result() if reading is not None else stored_type(storage_key, size)
    except StorageError as error:
        log.warning("could not read the start of %s to sniff its type: %s", storage_key, error)
        return None


@dataclass
class SniffReport:
    recognised: int = 0
    unrecognised: int = 0  # read, but not a type Locker knows: downloads only
    unreadable: int = 0  # storage could not read them this time


def sniff_unknown_types(batch=SNIFF_BATCH):
    """Sniff the ready files without a type: uploaded before sniffing, or when storage could not be read.

    Walks them by id, a batch per query and commit, so a large backlog is never held in memory.
    Unrecognised files keep no type and are read again by the next run.
    """
    report = SniffReport()
    after = 0
    while True:
        rows = db.session.execute(
            db.select(File.id, File.storage_key, File.size)
            .filter(File.status == FileStatus.READY, File.sniffed_type.is_(None), File.id > after)
            .order_by(File.id).limit(batch)).all()
        if not rows:
            return report
        db.session.commit()  # the batch's bytes are read with no transaction open, then written in one
        storage = get_storage().patient()
        found = {}
        for file_id, storage_key, size in rows:
            try:
                sniffed = stored_type(storage_key, size, storage)
            except StorageError as error:
                log.warning("could not read the start of %s to sniff its type: %s", storage_key, error)
                report.unreadable += 1
                continue
            if sniffed is None:
                report.unrecognised += 1
                continue
            report.recognised += 1
            found[file_id] = sniffed
        for file_id, sniffed in found.items():
            # A file deleted meanwhile is simply not updated.
            db.session.execute(db.update(File).where(File.id == file_id, File.status == FileStatus.READY)
                               .values(sniffed_type=sniffed))
        db.session.commit()
        after = rows[-1].id


def extension(name):
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def claims_active_content(file):
    """True when the name or the declared type says page, markup or script."""
    return (extension(file.name) in ACTIVE_EXTENSIONS
            or download_type(file.content_type) != file.content_type)


def is_text_flavour(file):
    """Text, Markdown or source code by its name or declared type (the bytes already proved it is text)."""
    suffix = extension(file.name)
    return (suffix in TEXT_EXTENSIONS or file.content_type in TEXT_DECLARED_TYPES
            or (not suffix and file.content_type == "application/octet-stream"))


def preview_kind(file):
    """image, pdf, audio, video or text when the file may be shown inline; None when only as an attachment."""
    allowed = INLINE_TYPES.get(file.sniffed_type)
    if allowed is None or claims_active_content(file):
        return None
    kind = allowed[0]
    if kind == "text" and not is_text_flavour(file):
        return None
    return kind


def download_type(content_type):
    """The type a declared type is served as: one a browser would run as a page or script becomes plain bytes."""
    if content_type in ACTIVE_CONTENT_TYPES or content_type.endswith(("+xml", "/xml", "javascript")):
        return "application/octet-stream"
    return content_type


def attachment_type(file):
    """The type a file is downloaded as: plain bytes whenever the claim or the bytes are active content."""
    if file.sniffed_type in ACTIVE_SNIFFED_TYPES:
        return "application/octet-stream"
    return download_type(file.content_type)


def signed_url(file, expires, inline=False):
    """A signed storage URL: inline only for an allow-listed preview, an attachment otherwise.

    Every download URL is made here, so a file whose bytes are gone or changed gets none.
    """
    refuse_damaged(file)
    if inline and preview_kind(file):
        return get_storage().download_url(file.storage_key, file.name, INLINE_TYPES[file.sniffed_type][1],
                                          expires=expires, inline=True)
    return get_storage().download_url(file.storage_key, file.name, attachment_type(file), expires=expires)


def read_text(file):
    """(text, bytes read, truncated): the first TEXT_PREVIEW_BYTES of a text file, undecodable bytes replaced."""
    head = storage_call(get_storage().read_head, file.storage_key, TEXT_PREVIEW_BYTES)
    truncated = file.size > len(head)
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=not truncated)
    return text, len(head), truncated


def preview(file, expires):
    """What a page shows of the file, or None when it is only offered as a download."""
    kind = preview_kind(file)
    if kind is None or file.problem:
        return None
    url = storage_call(signed_url, file, expires, inline=True)
    if kind == "text":
        return Preview(kind, url, *read_text(file))
    return Preview(kind, url)


def share_preview(share, file):
    """The preview on an open share link's page, or None.

    Call only for a link open_share let through (and, with a password, unlocked).
    A preview hands out the bytes uncounted, so a link with a download limit
    shows none; its URLs never outlive the link.
    """
    if share.max_downloads is not None:
        return None
    expires = current_app.config["SHARE_URL_EXPIRY"]
    if share.expires_at is not None:
        expires = min(expires, int((share.expires_at - utcnow()).total_seconds()))
    if expires <= 0:
        return None
    return preview(file, expires)
