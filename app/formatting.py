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


def iso_utc(moment):
    """A naive-UTC datetime as ISO 8601 with its zone, for clients and <time datetime>."""
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None
