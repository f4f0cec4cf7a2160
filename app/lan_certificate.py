"""A self-signed certificate for serving Locker over https on a local network (`make run HTTPS=1`).

Made once and kept, so the fingerprint people checked stays the same from one start to the next;
made again only when it has expired or no longer names every address Locker is reached at.
"""
import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

LIFETIME = timedelta(days=825)  # the longest a browser accepts for a server certificate
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True)
class LanCertificate:
    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256 of the DER certificate, as browsers show it: AB:CD:…
    made: bool  # False when the kept one was reused


def fingerprint(certificate):
    return ":".join(f"{byte:02X}" for byte in certificate.fingerprint(hashes.SHA256()))


def ensure_certificate(folder, names):
    """The certificate in `folder` for `names` (host names and IP addresses), made if missing or unfit."""
    folder = Path(folder)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    wanted = {str(name) for name in names}
    if cert_path.exists() and key_path.exists():
        kept = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if wanted <= covered_names(kept) and kept.not_valid_after_utc - RENEW_BEFORE > datetime.now(timezone.utc):
            return LanCertificate(cert_path, key_path, fingerprint(kept), made=False)
    folder.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = self_signed(key, sorted(wanted))
    write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return LanCertificate(cert_path, key_path, fingerprint(certificate), made=True)


def covered_names(certificate):
    try:
        alternatives = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return ({str(address) for address in alternatives.get_values_for_type(x509.IPAddress)}
            | set(alternatives.get_values_for_type(x509.DNSName)))


def self_signed(key, names):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Locker on this network")])
    now = datetime.now(timezone.utc)
    public_key = key.public_key()
    return (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + LIFETIME)
            .add_extension(x509.SubjectAlternativeName([alternative_name(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
            .sign(key, hashes.SHA256()))


def alternative_name(name):
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def write_private(path, data):
    """Write the key readable by its owner only, from the first byte on."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(data)
