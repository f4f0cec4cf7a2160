"""Bounds on JSON request bodies, checked once before anything parses them.

Python's json module recurses once per nesting level, so a body like
[[[[...]]]] a few thousand levels deep raises RecursionError wherever it is
parsed: in webargs, in request.get_json, in any hook that reads it.
This hook runs before all of those and refuses such a body, and any JSON body
larger than MAX_JSON_BODY, with a JSON error; what passes can be parsed safely.
"""
import json
import re

from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

# Locker's own bodies nest at most 3 levels ({"parts": [{"number": 1, ...}]}).
MAX_JSON_DEPTH = 32
# A JSON string, escapes included (unrolled so that a long string is one linear pass).
STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
NOT_BRACKET = re.compile(r"[^\[\]{}]+")
ONE_BRACKET_KIND = str.maketrans("{}", "[]")


def nests_within(text, limit=MAX_JSON_DEPTH):
    """True if text's brackets (outside strings) balance and nest at most `limit` deep, without recursing."""
    shape = NOT_BRACKET.sub("", STRING.sub("", text)).translate(ONE_BRACKET_KIND)
    # Each pass removes the innermost level everywhere at once, so `limit` passes bound the work.
    for _ in range(limit):
        if not shape:
            return True
        reduced = shape.replace("[]", "")
        if reduced == shape:
            return False  # unbalanced: not JSON at all
        shape = reduced
    return not shape


def loads(text, limit=MAX_JSON_DEPTH):
    """json.loads for text or UTF-8 bytes from outside (a cursor, say): ValueError, never RecursionError."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if not nests_within(text, limit):
        raise ValueError("JSON nested too deeply")
    return json.loads(text)


def refuse(status, code, message):
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    return response


def check_json_body():
    """A before-request hook: None for a request that may go on, else the JSON error to answer with."""
    # Storage uploads are raw bytes whatever their Content-Type says (a .json file is sent as one).
    if request.blueprint == "storage" or not request.is_json:
        return None
    limit = current_app.config["MAX_JSON_BODY"]
    too_large = refuse(413, "too_large", f"A JSON request body is at most {limit:,} bytes.")
    if request.content_length is not None and request.content_length > limit:
        return too_large
    # Bounds a body sent without Content-Length (chunked) while it is read. Werkzeug stops such a
    # stream at the limit without a word, so read one byte more to tell a body of exactly the limit
    # from a longer one cut short (which, padded with spaces, would still parse).
    request.max_content_length = limit + 1
    try:
        data = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return too_large
    if len(data) > limit:
        return too_large
    if not data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return refuse(400, "invalid_json", "Send the JSON body as UTF-8.")
    if not nests_within(text):
        return refuse(400, "invalid_json",
                      f"The JSON body is not valid, or nests deeper than {MAX_JSON_DEPTH} levels.")
    return None
