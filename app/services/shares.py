"""Share links: /s/<token> hands one file, a folder or a selection of files to anyone who has the link.

A link may expire, need a password, or allow only so many downloads. Every
download is counted by one conditional UPDATE, so a link with one download
left gives exactly one, however many people click at once; only then is a
short-lived storage URL signed.
"""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.orm import selectinload

from app.errors import Conflict, InvalidInput, LockerError, NotFound
from app.extensions import db
from app.models import File, FileStatus, Folder, Share, ShareItem, User, utcnow
from app.services import audit, files, folders, links, names, notices, previews
from app.services.common import find_ready_file, public_link, refuse_damaged, storage_call

MAX_NOTE_LENGTH = 1000
MAX_DOWNLOADS = 1_000_000
# Files one selection link names; as many as one move or trash takes.
MAX_SELECTION = 1000
# The most files a folder link lists and zips (a larger folder is refused, not cut short).
MAX_LINK_FILES = 10_000
ENDED_MESSAGES = {
    "revoked": "This link was turned off by its owner.",
    "expired": "This link has expired.",
    "used_up": "This link has been used as many times as its owner allowed.",
}


OWNER_INACTIVE = "This link is not available: its owner's account is disabled."


class ShareEnded(LockerError):
    """The link exists but no longer gives out its file."""

    status, code = 410, "share_ended"


def create_share(user, file_id=None, expires_at=None, expires_in=None, password=None, max_downloads=None, note=None,
                 folder_id=None, file_ids=None):
    """A new link to one of the user's files, one of their folders (with all in it) or a selection of their
    files: exactly one of file_id, folder_id and file_ids. Returns the share and its URL (shown only now)."""
    given = [name for name, value in (("file_id", file_id), ("folder_id", folder_id), ("file_ids", file_ids))
             if value is not None]
    if len(given) != 1:
        raise InvalidInput("Give exactly one of file_id, folder_id and file_ids.", code="invalid_target")
    target, file, chosen = {}, None, []
    if file_id is not None:
        file = files.get_file(user, file_id)
        refuse_damaged(file)
        target = {"file_id": file.id}
    elif folder_id is not None:
        folder = folders.get_folder(user, folder_id)
        target = {"folder_id": folder.id}
    else:
        chosen = selected_files(user, file_ids)
        target = {"is_selection": True}
    share, token = links.new(
        Share, user, **target, expires_at=links.parse_expiry(expires_at, expires_in),
        password_hash=links.password_hash(password),
        max_downloads=links.clean_limit(max_downloads, "max_downloads", MAX_DOWNLOADS, "downloads"),
        note=links.clean_text(note, "note", MAX_NOTE_LENGTH, multiline=True))
    for item in chosen:
        db.session.add(ShareItem(share_id=share.id, file_id=item.id))
    audit.record("share_created", owner_id=user.id, actor=user, file=file, share=share,
                 name=None if file is not None else describe(share))
    db.session.commit()
    return share, share_url(token)


def selected_files(user, file_ids):
    """The user's ready, intact files a selection link names: 1 to MAX_SELECTION of them, each once."""
    if not isinstance(file_ids, (list, tuple)) or not file_ids:
        raise InvalidInput("Choose at least one file.", code="invalid_file_ids")
    file_ids = list(dict.fromkeys(file_ids))
    if len(file_ids) > MAX_SELECTION:
        raise InvalidInput(f"A link takes at most {MAX_SELECTION:,} files.", code="invalid_file_ids")
    chosen = [folders.owned_file(user, public_id) for public_id in file_ids]
    for item in chosen:
        refuse_damaged(item)
    return chosen


def describe(share):
    """What a link hands out, in words (the activity log, the owner's list of links)."""
    if share.kind == "folder":
        return f"folder {share.folder.name or '(all files)'}" if share.folder else "(deleted folder)"
    if share.kind == "selection":
        count = db.session.execute(db.select(db.func.count()).select_from(ShareItem)
                                   .filter(ShareItem.share_id == share.id)).scalar_one()
        return f"{count:,} selected file{'s' if count != 1 else ''}"
    return share.file.name if share.file else "(deleted file)"


def share_url(token):
    return public_link("shares.show_share", token)


def link_url(share):
    """The link's URL for its owner to copy again, or None when Locker can't show it (see links.recover_token)."""
    token = links.recover_token(share)
    return share_url(token) if token else None


def editable_share(user, public_id):
    """One of the user's links that still works, so its settings may change; an ended one is a Conflict."""
    share = links.owned(Share, user, public_id, "No such link.")
    refuse_ended(share)
    return share


def refuse_ended(share):
    state = share.state(utcnow())
    if state != "active":
        raise Conflict(f"{ENDED_MESSAGES[state]} Its settings can't be changed any more; make a new link instead.",
                       code="share_ended")


def update_share(user, public_id, expires_at=links.UNCHANGED, expires_in=links.UNCHANGED, password=links.UNCHANGED,
                 max_downloads=links.UNCHANGED, note=links.UNCHANGED):
    """Change a working link's expiry, password, download limit or note, by the rules a new link's follow.

    Returns the share and what changed, in words (empty when nothing did). The download limit must stay above
    the downloads already made: one at or below them would end the link, which is what revoking is for.
    """
    share = editable_share(user, public_id)
    values, changed = links.expiry_and_password_changes(share, expires_at, expires_in, password)
    if max_downloads is not links.UNCHANGED:
        limit = links.clean_limit(max_downloads, "max_downloads", MAX_DOWNLOADS, "downloads")
        if limit is not None and limit <= share.download_count:
            raise below_downloads(share.download_count)
        links.note_change(share, values, changed, "max_downloads", limit, "download limit")
    if note is not links.UNCHANGED:
        links.note_change(share, values, changed, "note", links.clean_text(note, "note", MAX_NOTE_LENGTH,
                                                                              multiline=True), "note")
    if not values:
        return share, []
    new_limit = values.get("max_downloads")
    if not links.update_if_live(share, values, db.or_(Share.file_id.is_not(None), Share.folder_id.is_not(None),
                                                       Share.is_selection),
                                db.or_(Share.max_downloads.is_(None), Share.download_count < Share.max_downloads),
                                *([Share.download_count < new_limit] if new_limit is not None else [])):
        # A download, a revocation or the expiry came between our look and our write.
        db.session.rollback()
        refuse_ended(share)
        raise below_downloads(share.download_count)
    audit.record("share_changed", owner_id=user.id, actor=user, file=share.file, share=share,
                 detail=", ".join(changed))
    db.session.commit()
    return share, changed


def below_downloads(count):
    times = "once" if count == 1 else f"{count:,} times"
    return InvalidInput(f"This link has been downloaded {times} already, so its download limit must be more than "
                        f"{count:,}. To end the link now, revoke it.", code="invalid_max_downloads")


def list_shares(user):
    """The user's links, newest first, with their files read in one query rather than one per link."""
    return db.session.execute(db.select(Share).filter_by(owner_id=user.id)
                              .options(selectinload(Share.file), selectinload(Share.folder))
                              .order_by(Share.created_at.desc(), Share.id.desc())).scalars().all()


def revoke_share(user, public_id):
    """Turn a link off at once; revoking twice is fine (and recorded once)."""
    share = links.owned(Share, user, public_id, "No such link.")
    if links.revoke(share):
        audit.record("share_revoked", owner_id=user.id, actor=user, file=share.file, share=share)
    db.session.commit()


def end_shares_of(file_id):
    """A deleted file's links stop at once (in the caller's transaction)."""
    db.session.execute(db.update(Share).where(Share.file_id == file_id, Share.revoked_at.is_(None))
                       .values(revoked_at=utcnow()))


def forget_file(file_id):
    """A removed file's links keep saying they ended but no longer point at its id, which SQLite may reuse."""
    db.session.execute(db.update(Share).where(Share.file_id == file_id).values(file_id=None))


def refuse_inactive_owner(owner):
    """A disabled account's links (or one being deleted) give nothing out; enabling it brings them back."""
    if owner is None or not owner.is_active:
        raise ShareEnded(OWNER_INACTIVE)


def open_share(token):
    """The share a public link names, with its file (None for a folder or a selection), or ShareEnded/NotFound."""
    share = links.by_token(Share, token, "No such link.")
    refuse_inactive_owner(db.session.get(User, share.owner_id))
    state = share.state(utcnow())
    if share.kind != "file":
        if state != "active":
            raise ShareEnded(ENDED_MESSAGES[state])
        if share.kind == "folder":
            folder = db.session.get(Folder, share.folder_id)
            if folder is None:
                raise ShareEnded(ENDED_MESSAGES["revoked"])
            if folder.trashed_at is not None:
                raise ShareEnded("The folder behind this link is in its owner's trash. "
                                 "The link works again if they restore it.")
        return share, None
    file = db.session.get(File, share.file_id) if share.file_id else None
    if state == "active" and file is not None and file.status == FileStatus.TRASHED:
        raise ShareEnded("The file behind this link is in its owner's trash. The link works again if they restore it.")
    if file is None or file.status != FileStatus.READY:
        state = "revoked"
    if state != "active":
        raise ShareEnded(ENDED_MESSAGES[state])
    if file.problem:
        raise ShareEnded("The file behind this link can't be downloaded: storage no longer holds it intact. "
                         "Ask the person who sent it for it again.")
    return share, file


@dataclass(frozen=True)
class Entry:
    """One file of a link to a folder or a selection, or of an owner's zip: where it goes in the zip."""

    path: str   # relative: "2024/photo.jpg"
    file: File


def link_entries(share):
    """The files a folder or selection link hands out, by path: ready ones only (not trashed, not pending).

    A folder's files come with their paths below it, subfolders included (trashed ones left out).
    """
    if share.kind == "folder":
        folder = db.session.get(Folder, share.folder_id)
        return folder_entries(folder, "")
    rows = db.session.execute(db.select(File).join(ShareItem, ShareItem.file_id == File.id).filter(
        ShareItem.share_id == share.id, File.status == FileStatus.READY).order_by(File.name, File.id)
        .limit(MAX_LINK_FILES + 1)).scalars().all()
    return unique_paths([Entry(file.name, file) for file in rows])


def folder_entries(folder, prefix):
    """Every ready file in the folder and the live folders below it, each with its path after `prefix`."""
    rows = db.session.execute(db.select(File).filter(
        File.folder_id.in_(folders.subtree_ids(folder.id)), File.status == FileStatus.READY)
        .limit(MAX_LINK_FILES + 1)).scalars().all()
    if len(rows) > MAX_LINK_FILES:
        raise InvalidInput(f"This folder holds more than {MAX_LINK_FILES:,} files; share or zip a folder inside it.",
                           code="too_many_files")
    base = folders.path_of(folder)
    paths = folders.paths_of({file.folder_id for file in rows})
    entries = []
    for file in rows:
        full = paths.get(file.folder_id, "")
        below = full[len(base):].lstrip("/") if base and full.startswith(base) else ("" if base else full)
        entries.append(Entry("/".join(part for part in (prefix, below, file.name) if part), file))
    return sorted(entries, key=lambda entry: (entry.path.count("/"), entry.path.casefold(), entry.path))


def unique_paths(entries):
    """The entries with any path given twice numbered ("a (2).txt"), as a disk would need them."""
    taken, result = set(), []
    for entry in entries:
        folder, _, name = entry.path.rpartition("/")
        path = next(candidate for candidate in
                    (f"{folder}/{numbered}" if folder else numbered for numbered in names.numbered_names(name))
                    if candidate not in taken)
        taken.add(path)
        result.append(Entry(path, entry.file))
    return result


def file_of(share, file_public_id):
    """One ready file a folder or selection link hands out (one query, however many it has), or NotFound."""
    if share.kind == "folder":
        inside = File.folder_id.in_(folders.subtree_ids(share.folder_id))
    else:
        inside = File.id.in_(db.select(ShareItem.file_id).filter(ShareItem.share_id == share.id))
    try:
        return find_ready_file(file_public_id, File.owner_id == share.owner_id, inside)
    except NotFound:
        raise NotFound("This link has no such file.") from None


def count_download(share, file=None):
    """Count one download on the link (one conditional UPDATE); ShareEnded when the limit was reached meanwhile."""
    now = utcnow()
    counted = db.session.execute(
        db.update(Share).where(
            Share.id == share.id, Share.revoked_at.is_(None),
            db.or_(Share.expires_at.is_(None), Share.expires_at > now),
            db.or_(Share.max_downloads.is_(None), Share.download_count < Share.max_downloads))
        .values(download_count=Share.download_count + 1, last_download_at=now)).rowcount
    if counted:
        audit.record("share_download", owner_id=share.owner_id, file=file, share=share,
                     **({"detail": "zip of all files"} if file is None else {}))
    db.session.commit()
    if not counted:
        # Someone else took the last download between our look and our write.
        raise ShareEnded(ENDED_MESSAGES["used_up"])


def url_lifetime(share, seconds):
    """`seconds`, but never past the link's own expiry."""
    if share.expires_at is not None:
        seconds = min(seconds, int((share.expires_at - utcnow()).total_seconds()))
    return max(seconds, 1)


def download_through_share(token, file_public_id=None):
    """Count one download and return a fresh, short-lived URL; refuse when the link has ended.

    A folder or selection link names which of its files (file_public_id)."""
    share, file = open_share(token)
    if file is None:
        if file_public_id is None:
            raise NotFound("Choose one of the link's files.")
        file = file_of(share, file_public_id)
        refuse_damaged(file)
    count_download(share, file)
    notices.link_downloaded(share, file.name)
    return storage_call(previews.signed_url, file, current_app.config["SHARE_URL_EXPIRY"])


def zip_list(token):
    """A folder or selection link's files, counted as one download, each with a fresh signed URL (see zip_entries)."""
    share, file = open_share(token)
    entries = [Entry(file.name, file)] if file is not None else link_entries(share)
    entries = [entry for entry in entries if not entry.file.problem]
    if not entries:
        raise NotFound("This link has no files to download right now.")
    count_download(share)
    notices.link_downloaded(share, f"{file.name} (as a zip)" if file is not None else describe(share))
    expires = url_lifetime(share, max(current_app.config["ZIP_URL_EXPIRY"], current_app.config["SHARE_URL_EXPIRY"]))
    return zip_name_of(share, file), signed_entries(entries, expires)


def zip_name_of(share, file=None):
    if file is not None:
        return f"{names.split_extension(file.name)[0]}.zip"
    if share.kind == "folder" and share.folder is not None and share.folder.name:
        return f"{share.folder.name}.zip"
    return "files.zip"


def signed_entries(entries, expires):
    """[{path, size, sha256, url}] for a browser to fetch and zip: the bytes never pass through Locker."""
    return [{"path": entry.path, "size": entry.file.size, "sha256": entry.file.sha256,
             "url": storage_call(previews.signed_url, entry.file, expires)} for entry in entries]


def owner_zip_list(user, file_ids=(), folder_ids=()):
    """The owner's own files and folders as a zip list: files at the top, each folder under its name."""
    file_ids, folder_ids = list(dict.fromkeys(file_ids)), list(dict.fromkeys(folder_ids))
    if not file_ids and not folder_ids:
        raise InvalidInput("Choose at least one file or folder.", code="nothing_chosen")
    if len(file_ids) + len(folder_ids) > folders.MAX_ITEMS:
        raise InvalidInput(f"Choose at most {folders.MAX_ITEMS:,} items at once.", code="too_many_items")
    chosen_files = [folders.owned_file(user, public_id) for public_id in file_ids]
    chosen = [folders.get_folder(user, public_id) for public_id in folder_ids]
    entries = [Entry(file.name, file) for file in chosen_files]
    for folder in chosen:
        entries += folder_entries(folder, folder.name)
        if len(entries) > MAX_LINK_FILES:
            raise InvalidInput(f"A zip takes at most {MAX_LINK_FILES:,} files.", code="too_many_files")
    entries = [entry for entry in unique_paths(entries) if not entry.file.problem]
    name = f"{chosen[0].name}.zip" if len(chosen) == 1 and not chosen_files and chosen[0].name else "files.zip"
    return name, signed_entries(entries, current_app.config["ZIP_URL_EXPIRY"])
