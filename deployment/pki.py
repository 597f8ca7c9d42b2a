"""The consortium's PKI: a CA, the SuperLink's TLS certificate, institutions' SuperNode keys.

Layout under the PKI folder (private keys owner-only, folders 0700):

    ca/ca.key, ca/ca.crt                 the consortium CA (ECDSA P-384); the key signs
                                         server certificates and nothing else
    superlink/server.key, server.crt     the SuperLink's TLS key and certificate, with a
                                         SAN for every address nodes reach it at
    nodes/<name>/auth.key, auth.pub      an institution's SuperNode authentication key pair
                                         (ECDSA P-384, OpenSSH format, as Flower expects)
    nodes.toml                           the consortium's node list: [nodes] name = public key

Only `ca.crt` and an institution's own `auth.key` go to an institution; `ca.key` never
leaves the coordinator's PKI folder.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import tomli_w
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fedscore.clients.node_document import PARTY_NAME_PATTERN
from fedscore.core.documents import read_toml
from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic, write_private

CURVE = ec.SECP384R1
NODE_NAME = re.compile(PARTY_NAME_PATTERN)


class _PkiFile:
    """A file at a fixed place in the PKI folder: `layout.<name>` is its path under the root."""

    def __init__(self, relative: str) -> None:
        self.relative = relative

    @overload
    def __get__(self, layout: None, owner: type[PkiLayout]) -> _PkiFile: ...

    @overload
    def __get__(self, layout: PkiLayout, owner: type[PkiLayout]) -> Path: ...

    def __get__(self, layout: PkiLayout | None, owner: type[PkiLayout]) -> Path | _PkiFile:
        return self if layout is None else layout.root / self.relative


@dataclass(frozen=True)
class PkiLayout:
    """Where the consortium's PKI files are.

    Attributes:
        root: the PKI folder (the coordinator's; keep it off shared storage).
        ca_key, ca_cert: the consortium CA's private key and certificate.
        server_key, server_cert: the SuperLink's TLS private key and certificate.
        node_list: the consortium's node list.
    """

    root: Path
    ca_key = _PkiFile("ca/ca.key")
    ca_cert = _PkiFile("ca/ca.crt")
    server_key = _PkiFile("superlink/server.key")
    server_cert = _PkiFile("superlink/server.crt")
    node_list = _PkiFile("nodes.toml")

    def node_key(self, name: str) -> Path:
        return self.root / "nodes" / name / "auth.key"

    def node_public_key(self, name: str) -> Path:
        return self.root / "nodes" / name / "auth.pub"


def init_pki(
    root: Path, server_names: Sequence[str], valid_days: int = 825, organization: str = ""
) -> PkiLayout:
    """Create the consortium CA and the SuperLink's certificate.

    Args:
        root: the PKI folder; refused if it already holds a CA.
        server_names: every address institutions' nodes use for the coordinator: IP
            addresses and DNS names (each becomes a subject alternative name; 127.0.0.1
            and localhost are always added, for the coordinator's own processes).
        valid_days: validity of both certificates.
        organization: the consortium's name in the certificates.

    Raises:
        ConfigError: a CA exists already, or no server name is given.
    """
    layout = PkiLayout(root)
    if layout.ca_key.exists():
        raise ConfigError(f"{layout.ca_key} exists: this PKI folder already has a CA")
    if not server_names:
        raise ConfigError("name at least one address of the SuperLink (--san)")
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(CURVE())
    ca_name = _name(f"{organization or 'fedscore consortium'} CA", organization)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA384())
    )
    server_key = ec.generate_private_key(CURVE())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(server_names[0], organization))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=valid_days))
        .add_extension(
            x509.SubjectAlternativeName([_san(n) for n in _with_loopback(server_names)]), False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA384())
    )
    write_private(layout.ca_key, _pem(ca_key), exclusive=True)
    write_bytes_atomic(layout.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
    write_private(layout.server_key, _pem(server_key), exclusive=True)
    write_bytes_atomic(layout.server_cert, server_cert.public_bytes(serialization.Encoding.PEM))
    return layout


def issue_node_key(root: Path, name: str) -> tuple[Path, Path]:
    """Create an institution's SuperNode key pair and add it to the consortium's node list.

    Returns the private and public key files.

    Raises:
        ConfigError: the name is not a valid party name, or the node has a key already.
    """
    if not NODE_NAME.match(name):
        raise ConfigError(
            f"'{name}' is not a valid institution name: lower-case letters, digits and _"
        )
    layout = PkiLayout(root)
    private, public = layout.node_key(name), layout.node_public_key(name)
    key = ec.generate_private_key(CURVE())
    written = write_private(
        private,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        ),
        exclusive=True,
    )
    if not written:
        raise ConfigError(f"{private} exists: institution '{name}' has a key already")
    line = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    write_bytes_atomic(public, line + b"\n")
    nodes = load_node_list(root) if layout.node_list.exists() else {}
    nodes[name] = line.decode("ascii")
    write_bytes_atomic(layout.node_list, tomli_w.dumps({"nodes": nodes}).encode("utf-8"))
    return private, public


def load_node_list(root: Path) -> dict[str, str]:
    """The consortium's node list: institution name → OpenSSH public key line.

    Raises:
        ConfigError: the list is missing or malformed.
    """
    path = PkiLayout(root).node_list
    nodes = read_toml(path, "the consortium's node list").get("nodes", {})
    for name, line in nodes.items():
        try:
            key = serialization.load_ssh_public_key(str(line).encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ConfigError(f"{path}: node '{name}' has no valid public key ({exc})") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ConfigError(f"{path}: node '{name}': not an ECDSA public key")
    return {str(k): str(v) for k, v in nodes.items()}


def _with_loopback(server_names: Sequence[str]) -> list[str]:
    """The names plus 127.0.0.1 and localhost.

    The coordinator's own processes (its fleet gateway, executor and model owners) reach the
    SuperLink on loopback.
    """
    return list(dict.fromkeys([*server_names, "127.0.0.1", "localhost"]))


def _name(common_name: str, organization: str) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
