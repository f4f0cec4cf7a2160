from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length


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


class TokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
    expires_in_days = SelectField("Expires", coerce=int, default=90, choices=[
        SelectChoice(days, label) for days, label in
        [(7, "in 7 days"), (30, "in 30 days"), (90, "in 90 days"), (365, "in a year"), (0, "never")]])
    submit = SubmitField("Create token")

