"""Fill the ${UPPER_CASE} placeholders of a deployment template (deploy/nginx/locker.conf).

Only ${NAME} in capitals is a placeholder, so nginx's own $host or ${host} stay as they are.
A value comes from a NAME=VALUE argument, else from the environment; a placeholder with neither
is an error, naming every one missing, and nothing is printed.

    python -m scripts.render_template deploy/nginx/locker.conf SERVER_NAME=files.example.org ... > locker.conf
"""
import os
import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render(template, values):
    """The template with every placeholder filled from `values`; KeyError names those without one."""
    missing = sorted({name for name in PLACEHOLDER.findall(template) if name not in values})
    if missing:
        raise KeyError(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), template)


def main(arguments):
    if not arguments or any("=" not in argument for argument in arguments[1:]):
        sys.exit("usage: python -m scripts.render_template TEMPLATE [NAME=VALUE ...]")
    values = {**os.environ, **dict(argument.split("=", 1) for argument in arguments[1:])}
    try:
        sys.stdout.write(render(Path(arguments[0]).read_text(), values))
    except KeyError as error:
        sys.exit(f"{arguments[0]}: {error.args[0]}")


if __name__ == "__main__":
    main(sys.argv[1:])
