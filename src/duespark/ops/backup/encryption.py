"""age encryption of archives (via ``pyrage``), with errors an operator can act on.

age (age-encryption.org/v1) encrypts to X25519 public keys: the backup host needs only the
recipient (``age1...``), so it cannot read its own backups. The payload is authenticated in
64 KiB chunks, so truncation, reordering or one flipped bit fail decryption instead of
producing damaged plaintext. Identities are read from an age identity file (the
``AGE-SECRET-KEY-1...`` lines of what ``age-keygen`` writes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyrage
from pyrage import x25519

from duespark.ops.backup.common import BackupError, BackupUsageError


def parse_recipients(values: list[str]) -> list[Any]:
    """Public keys to encrypt to: ``age1...`` or an OpenSSH public key line."""
    recipients: list[Any] = []
    for value in values:
        text = value.strip()
        try:
            if text.startswith("age1"):
                recipients.append(x25519.Recipient.from_str(text))
            elif text.startswith(("ssh-ed25519 ", "ssh-rsa ")):
                recipients.append(pyrage.ssh.Recipient.from_str(text))
            else:
                raise ValueError("expected an age1... recipient or an ssh-ed25519 public key")
        except (pyrage.RecipientError, ValueError) as exc:
            shown = text if len(text) <= 24 else text[:20] + "..."
            raise BackupUsageError(
                f"--encrypt-to {shown!r} is not a valid recipient: {exc}"
            ) from None
    return recipients


def load_identities(path: Path) -> list[Any]:
    """The secret keys in an age identity file (comments and blank lines ignored)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BackupUsageError(f"cannot read identity file {path}: {exc.strerror}") from None
    identities: list[Any] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(text))
        except pyrage.IdentityError:
            raise BackupUsageError(
                f"{path}, line {number}: not an age identity (expected AGE-SECRET-KEY-1...)"
            ) from None
    if not identities:
        raise BackupUsageError(f"{path} holds no age identity (AGE-SECRET-KEY-1... line)")
    return identities


def encrypt_file(source: Path, destination: Path, recipients: list[Any]) -> None:
    try:
        pyrage.encrypt_file(str(source), str(destination), recipients)
    except (pyrage.EncryptError, OSError) as exc:
        destination.unlink(missing_ok=True)
        raise BackupError(f"cannot encrypt {source.name}: {exc}") from None


def decrypt_file(source: Path, destination: Path, identities: list[Any]) -> None:
    """Decrypt and authenticate the whole archive; on failure nothing is left behind.

    A key mismatch and damaged ciphertext are told apart: the first means the identity is
    wrong (or the archive was encrypted to someone else), the second that the file changed.
    """
    try:
        pyrage.decrypt_file(str(source), str(destination), identities)
    except pyrage.DecryptError as exc:
        destination.unlink(missing_ok=True)
        if "no matching keys" in str(exc).lower():
            raise BackupError(
                f"cannot decrypt {source.name}: the identity file holds no key this archive "
                "was encrypted to (wrong --identity?)"
            ) from None
        raise BackupError(f"cannot decrypt {source.name}: {exc}") from None
    except OSError as exc:
        destination.unlink(missing_ok=True)
        raise BackupError(
            f"cannot decrypt {source.name}: {exc.strerror or exc} (the ciphertext failed "
            "authentication: the archive is truncated or was altered)"
        ) from None
