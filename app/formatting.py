"""How sizes and times are shown to people."""

UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"]


def human_size(size):
    """1536 -> '1.5 KiB'; small counts stay exact ('12 bytes')."""
    value = float(size)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            break
        value /= 1024
    if unit == "bytes":
        return "1 byte" if size == 1 else f"{int(size)} bytes"
    return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"


def wait_in_words(seconds):
    """How long to wait, rounded up to what people count in: 45 -> '45 seconds', 125 -> '3 minutes'.

    Minutes up to two hours, so an hour's window does not read as '2 hours' a second after it began."""
    seconds = max(1, int(seconds))
    for unit, length, from_ in (("hour", 3600, 7200), ("minute", 60, 60)):
        if seconds >= from_:
            count = -(-seconds // length)
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} second" + ("s" if seconds != 1 else "")


def iso_utc(moment):
    """A naive-UTC datetime as ISO 8601 with its zone, for clients and <time datetime>."""
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None
