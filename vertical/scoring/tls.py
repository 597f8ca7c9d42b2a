"""Mutual TLS between the two parties of a vertical model, under the consortium's CA.

`deployment.pki` makes the consortium CA and the SuperLink's certificate; institutions'
SuperNodes authenticate with SSH-format keys, which TLS cannot use. The partial-score
service needs a certificate for each party, so this module issues one, signed by that
CA: subject common name the party's name (the facilitator's service authorizes the
bank by it), subject alternative names the party's name (the bank checks that the
service it reached is the run's facilitator by it) and the addresses its service is
reached at, usable as a TLS server and as a TLS client. Under the PKI folder:

    tls/<party>/tls.key, tls.crt      its private key (owner-only) and certificate

The coordinator issues them; an institution receives its own pair and `ca/ca.crt`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic, write_private
from fedscore.deployment.pki import CURVE, NODE_NAME, PkiLayout


@dataclass(frozen=True)
class TlsFiles:
    """One party's TLS material for the partial-score link.

    Attributes:
        ca_certificate: the consortium CA's certificate (PEM): the peer's must be its.
        certificate: the party's own certificate (PEM, `issue_party_certificate`).
        private_key: its private key (PEM, owner-only).
    """

    ca_certificate: Path
    certificate: Path
    private_key: Path

    def read(self) -> tuple[bytes, bytes, bytes]:
        """The CA certificate, the certificate and the key, as bytes.

        Raises:
            ConfigError: a file cannot be read.
        """
        try:
            return (
                self.ca_certificate.read_bytes(),
                self.certificate.read_bytes(),
                self.private_key.read_bytes(),
            )
        except OSError as error:
            raise ConfigError(f"cannot read the TLS files: {error}") from error

    def server_credentials(self) -> grpc.ServerCredentials:
        """Credentials of a server that requires a client certificate of the CA.

        Raises:
            ConfigError: a file cannot be read.
        """
        ca, chain, key = self.read()
        return grpc.ssl_server_credentials(
            [(key, chain)], root_certificates=ca, require_client_auth=True
        )

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """Credentials of a client that presents its certificate (mutual TLS).

        Raises:
            ConfigError: a file cannot be read.
        """
        ca, chain, key = self.read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=chain
        )


def party_tls_files(root: Path, party: str) -> TlsFiles:
    """Where `issue_party_certificate` put a party's TLS files under the PKI folder."""
    folder = root / "tls" / party
    return TlsFiles(PkiLayout(root).ca_cert, folder / "tls.crt", folder / "tls.key")


def issue_party_certificate(
    root: Path, party: str, addresses: Sequence[str] = (), valid_days: int = 397
) -> TlsFiles:
    """Issue a party's TLS certificate with the consortium CA of the PKI folder `root`.

    Args:
        root: the PKI folder (`deployment.pki.init_pki`), holding the CA's key.
        party: the party's name in the consortium (the certificate's common name).
        addresses: the IP addresses and DNS names its service is reached at (127.0.0.1
            and localhost are always added).
        valid_days: the certificate's validity.

    Returns:
        The party's TLS files (with the CA's certificate).

    Raises:
        ConfigError: the name is not a valid party name, the PKI folder has no CA, or
            the party has a TLS key already.
    """
    if not NODE_NAME.match(party):
        raise ConfigError(f"'{party}' is not a valid party name: lower-case letters, digits, _")
    layout = PkiLayout(root)
    try:
        ca_key = serialization.load_pem_private_key(layout.ca_key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(layout.ca_cert.read_bytes())
    except (OSError, ValueError) as error:
        raise ConfigError(f"{root}: no readable consortium CA ({error})") from error
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{layout.ca_key}: not the consortium CA's ECDSA key")
    files = party_tls_files(root, party)
    key = ec.generate_private_key(CURVE())
    now = dt.datetime.now(dt.UTC)
    names = list(dict.fromkeys([party, *addresses, "127.0.0.1", "localhost"]))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, party)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA384())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    if not write_private(files.private_key, pem, exclusive=True):
        raise ConfigError(f"{files.private_key} exists: {party} has a TLS key already")
    write_bytes_atomic(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    return files


def peer_common_name(context: grpc.ServicerContext) -> str | None:
    """The common name of the client certificate of a call (None: no certificate)."""
    # gRPC gives a list of values per property (grpc-stubs types it as one value).
    found: object = context.auth_context().get("x509_common_name")
    names = found if isinstance(found, list) else []
    if len(names) != 1 or not isinstance(names[0], bytes):
        return None
    return names[0].decode("utf-8", "replace")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
