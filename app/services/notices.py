"""Opt-in email notices: a link of mine was downloaded; files arrived through my upload request.

Called after the download's or upload's commit, never inside a transaction, and never failing
the request: mail.send only queues. A burst (a popular link, a guest sending fifty files) makes
one notice per link per NOTICE_LIMIT_PER_LINK window (default one per 10 minutes), counted in the
rate-limit storage, which every worker shares when it is Redis. The notice after a quiet spell
says how many downloads the link has had in all, so nothing is lost by the cap.
"""
import logging

from app.auth.limits import Budget
from app.extensions import db
from app.models import User
from app.services import mail, mail_budget
from app.services.site_links import absolute_url

log = logging.getLogger(__name__)


def recipient(user_id, wants):
    """The owner's address when they opted into this notice (wants(user)) and mail can go; else None."""
    if not mail.is_configured():
        return None
    owner = db.session.get(User, user_id)
    if owner is None or not owner.email or not owner.is_active or not wants(owner):
        return None
    return owner.email


def link_downloaded(share, what):
    """After a counted download through `share` (its commit done) of `what` (in words): maybe tell the owner."""
    try:
        to = recipient(share.owner_id, lambda owner: owner.notify_downloads)
        if to is None:
            return
        count = share.download_count
        times = "once" if count == 1 else f"{count:,} times"
        if not mail_budget.has_room(Budget("NOTICE_LIMIT_PER_LINK", "notice-share", share.public_id)):
            return
        mail.send(to, f"Downloaded: {what}", "\n".join([
            f"Your link to {what} was just downloaded. It has been downloaded {times} in all.", "",
            "See your links: " + absolute_url("shares.list_shares"), "",
            "You get this because you asked for download notices. Turn them off on your Account page: "
            + absolute_url("auth.account")]))
    except Exception:  # noqa: BLE001  a notice must never fail the download it is about
        log.exception("could not queue a download notice")


def files_arrived(file_request, file):
    """After a guest's upload through `file_request` completed (its commit done): maybe tell the owner."""
    try:
        to = recipient(file_request.owner_id, lambda owner: owner.notify_deliveries)
        if to is None:
            return
        if not mail_budget.has_room(Budget("NOTICE_LIMIT_PER_LINK", "notice-request", file_request.public_id)):
            return
        who = file.guest_name or "Someone"
        mail.send(to, f"Files arrived: {file_request.title}", "\n".join([
            f"{who} sent {file.sent_name or file.name} through your upload request “{file_request.title}”.",
            "More may have arrived with it; they are all in your files.", "",
            "Your files: " + absolute_url("web.list_files"), "",
            "You get this because you asked for notices of files arriving. Turn them off on your Account page: "
            + absolute_url("auth.account")]))
    except Exception:  # noqa: BLE001  a notice must never fail the upload it is about
        log.exception("could not queue an upload notice")
