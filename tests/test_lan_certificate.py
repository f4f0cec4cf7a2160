"""`flask locker bootstrap --https` (make run HTTPS=1): a self-signed certificate made once, kept and reused,
naming this machine's addresses, with its SHA-256 fingerprint printed for people to check."""
import hashlib
import ssl
import stat

from cryptography import x509

from app.lan_certificate import covered_names


def bootstrap(app, tls_dir, *arguments):
    result = app.test_cli_runner().invoke(args=["locker", "bootstrap", "--https", "--tls-dir", str(tls_dir),
                                                *arguments])
    assert result.exit_code == 0, result.output
    return result.output


def printed_fingerprint(output):
    return output.split("fingerprint they show is")[1].split()[0]


def fingerprint_of(path):
    der = ssl.PEM_cert_to_DER_cert(path.read_text())
    return ":".join(f"{byte:02X}" for byte in hashlib.sha256(der).digest())


def test_the_certificate_is_made_once_and_its_printed_fingerprint_is_its_own(local_app, tmp_path, monkeypatch):
    from app import cli
    monkeypatch.setattr(cli, "lan_addresses", lambda: ["192.0.2.10"])
    tls = tmp_path / "tls"
    first = bootstrap(local_app, tls, "--host", "0.0.0.0", "--port", "8443")
    cert = tls / "cert.pem"
    assert "Made a new self-signed certificate" in first
    assert "https://127.0.0.1:8443" in first and "https://192.0.2.10:8443" in first
    assert printed_fingerprint(first) == fingerprint_of(cert)
    names = covered_names(x509.load_pem_x509_certificate(cert.read_bytes()))
    assert {"localhost", "127.0.0.1", "192.0.2.10"} <= names
    assert stat.S_IMODE((tls / "key.pem").stat().st_mode) == 0o600

    kept = cert.read_bytes()
    second = bootstrap(local_app, tls, "--host", "0.0.0.0", "--port", "8443")
    assert "Using the self-signed certificate" in second
    assert printed_fingerprint(second) == printed_fingerprint(first) and cert.read_bytes() == kept


def test_a_new_lan_address_gets_a_new_certificate_naming_it(local_app, tmp_path, monkeypatch):
    from app import cli
    tls = tmp_path / "tls"
    monkeypatch.setattr(cli, "lan_addresses", lambda: ["192.0.2.10"])
    first = printed_fingerprint(bootstrap(local_app, tls, "--host", "0.0.0.0"))
    monkeypatch.setattr(cli, "lan_addresses", lambda: ["192.0.2.77"])
    output = bootstrap(local_app, tls, "--host", "0.0.0.0")
    assert "Made a new" in output and printed_fingerprint(output) != first
    assert "192.0.2.77" in covered_names(x509.load_pem_x509_certificate((tls / "cert.pem").read_bytes()))


def test_without_https_no_certificate_is_made(local_app, tmp_path):
    result = local_app.test_cli_runner().invoke(args=["locker", "bootstrap"])
    assert result.exit_code == 0 and "https://" not in result.output and "fingerprint" not in result.output


def test_serving_loopback_only_still_names_the_lan_addresses(local_app, tmp_path, monkeypatch):
    """So that HOST=0.0.0.0 later keeps the same certificate and fingerprint."""
    from app import cli
    monkeypatch.setattr(cli, "lan_addresses", lambda: ["192.0.2.10"])
    tls = tmp_path / "tls"
    first = printed_fingerprint(bootstrap(local_app, tls))
    output = bootstrap(local_app, tls, "--host", "0.0.0.0")
    assert "Using the" in output and printed_fingerprint(output) == first
