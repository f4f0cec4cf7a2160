"""QR codes of links, for opening them on a phone (a Jinja filter: {{ url|qr_svg }})."""
import segno
from markupsafe import Markup, escape


def qr_svg(text, label="QR code for the link"):
    """An inline SVG QR code of `text`, with `label` as its accessible name.

    Dark on a white ground with the standard quiet zone, whatever the page's
    colours, so phone cameras can read it.
    """
    code = segno.make(text, error="m")
    svg = code.svg_inline(scale=4, border=4, dark="#000", light="#fff", title=label, svgclass="qr", omitsize=True,
                          lineclass=None)
    # Read out as one image with this name, not as a drawing of many paths.
    return Markup(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))
