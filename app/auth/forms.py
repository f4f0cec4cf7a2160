from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app.services import users


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired()], render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")
    submit = SubmitField("Log in")


class AccountForm(FlaskForm):
    """A new account: sign-up, and the first admin on the setup page."""

    username = StringField("Username", validators=[DataRequired(), Length(min=3, max=32)],
                           render_kw={"autocomplete": "username"})
    password = PasswordField("Password (at least 8 characters)", validators=[DataRequired(), Length(min=8)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "Passwords do not match.")],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Create account")

    def validate_password(self, field):
        # The service's rule, shown beside the field that has to change; creating the account
        # applies it again, as it does for every other way of setting a password.
        if not field.errors:
            problem = users.password_problem(field.data, self.username.data)
            if problem:
                raise ValidationError(problem)


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
    expires_in_days = SelectField("Expires", coerce=int, default=90, choices=[
        SelectChoice(days, label) for days, label in
        [(7, "in 7 days"), (30, "in 30 days"), (90, "in 90 days"), (365, "in a year"), (0, "never")]])
    submit = SubmitField("Create token")

