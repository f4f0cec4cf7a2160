"""The admin area's page for deleting an account: /admin/users/<id>/delete (confirm, then delete)."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.errors import LockerError
from app.services import admin, deletion
from app.web import bp
from app.web.admin_pages import admin_required


@bp.route("/admin/users/<int:user_id>/delete", methods=["GET", "POST"])
@admin_required
def delete_user(user_id):
    """GET says what will go and asks for the username typed; POST deletes."""
    user = admin.find_user(user_id)
    refusal = None
    if user.id == current_user.id:
        refusal = "You can't delete your own account here: use your Account page, which asks for your password."
    elif user.deleting_at is None and user.is_admin and not deletion.other_admins_exist(user.id):
        refusal = deletion.LAST_ADMIN
    held = deletion.holdings(user)
    status = 200
    if request.method == "POST" and refusal is None:
        typed = (request.form.get("confirm") or "").strip().lower()
        if typed != user.username:
            flash(f"Type the username, {user.username}, to confirm.", "error")
            status = 400
        else:
            username, summary = user.username, deletion.describe(held)
            try:
                outcome = deletion.delete_by_admin(current_user._get_current_object(), user)
            except LockerError as error:
                flash(error.message, "error")
                return redirect(url_for("web.delete_user", user_id=user_id))
            flash(f"Deleted {username} with {summary}." if outcome.finished else
                  f"{username} can no longer sign in; the rest of the account ({summary}) is removed by the "
                  "next `flask locker sweep`, as storage did not answer in time.", "info")
            # Back to the list the admin came from; their own activity lists the deletion too.
            return redirect(url_for("web.admin_users"))
    elif request.method == "POST":
        status = 403
    return render_template("admin/user_delete.html", user=user, held=held, summary=deletion.describe(held),
                           refusal=refusal), status
