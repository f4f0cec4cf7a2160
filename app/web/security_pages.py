"""The admin area's Security page: whether every account must use two-factor sign-in."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField

from app.extensions import db
from app.models import User
from app.services import two_factor
from app.web import bp
from app.web.admin_pages import admin_required, section


class SecurityForm(FlaskForm):
    require_two_factor = BooleanField("Require two-factor sign-in for every account")
    submit = SubmitField("Save")


@bp.route("/admin/security", methods=["GET", "POST"])
@admin_required
def admin_security():
    form = SecurityForm()
    if form.validate_on_submit():
        two_factor.set_required(bool(form.require_two_factor.data), current_user._get_current_object())
        flash("Two-factor sign-in is now required for every account." if form.require_two_factor.data
              else "Two-factor sign-in is now each account's choice.", "info")
        return redirect(url_for("web.admin_security"))
    if not form.is_submitted():
        form.require_two_factor.data = two_factor.is_required()
    active = db.select(db.func.count(User.id)).where(User.is_active_account.is_(True), User.deleting_at.is_(None))
    return render_template("admin/security.html", form=form,
                           accounts=db.session.execute(active).scalar_one(),
                           without=db.session.execute(active.where(User.totp_enabled_at.is_(None))).scalar_one()), \
        400 if form.errors else 200


section("web.admin_security", "Security")
