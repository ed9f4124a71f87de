"""How the grader and the kernel's sentinel talk: sealed cells in, signed verdicts out.

The grader does not send a locked cell's source (a test cell, or a locked helper cell)
to the kernel as it is. It sends a one-line *stub* that raises an audit event carrying
the cell *sealed* with a key that only the grader and the sentinel hold: encrypted, so
that student code reading the kernel's history cannot learn the hidden tests, and
authenticated, so that it cannot be altered. The sentinel (an audit hook installed before
any student code ran) opens it, restores a pristine state, runs the cell, and publishes a
*verdict* signed with the same key. A verdict that is missing or does not verify means
that something stood between the grader and the sentinel, and the test scores 0.

Standard library only, and only C-implemented primitives (``_hashlib.hmac_digest``,
``binascii``): the kernel imports this module before anything else, and student code
cannot change what a C function does.
"""

from __future__ import annotations

import binascii
import json
import os
from _hashlib import hmac_digest
from hmac import compare_digest
from typing import Any

__all__ = [
    "AUDIT_EVENT",
    "DONE_EVENT",
    "MIMETYPE",
    "OUTCOME_EVENT",
    "KEY_BYTES",
    "new_key",
    "new_nonce",
    "open_sealed",
    "seal",
    "sign",
    "stub",
    "verify",
]

#: The audit event a stub raises to open its sealed cell; the sentinel hands the code back.
AUDIT_EVENT = "grader.cell"
#: The audit event the opened cell's own code raises with its outcome.
OUTCOME_EVENT = "grader.outcome"
#: The audit event a stub raises when its cell has ended; the sentinel signs the verdict.
DONE_EVENT = "grader.done"
#: The MIME type of the display message that carries a signed verdict.
MIMETYPE = "application/x.course-grading-verdict+json"
KEY_BYTES = 32

_DIGEST = "sha256"
_BLOCK = 32  # bytes of keystream per HMAC-SHA256 block


def new_key() -> bytes:
    """A fresh random key, one per kernel."""
    return os.urandom(KEY_BYTES)


def new_nonce() -> str:
    """A fresh random nonce (hex), one per sealed cell: verdicts cannot be replayed."""
    return os.urandom(16).hex()


def _keystream_xor(key: bytes, nonce: str, data: bytes) -> bytes:
    """XOR ``data`` with HMAC-SHA256(key, "stream" | nonce | counter) blocks (a stream cipher)."""
    prefix = b"stream|" + nonce.encode() + b"|"
    blocks = [
        hmac_digest(key, prefix + counter.to_bytes(8, "big"), _DIGEST)
        for counter in range((len(data) + _BLOCK - 1) // _BLOCK)
    ]
    stream = b"".join(blocks)[: len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def seal(key: bytes, nonce: str, message: dict[str, Any]) -> tuple[str, str]:
    """Encrypt and authenticate ``message`` (JSON) for ``nonce``; return (ciphertext, tag) as text."""
    plain = json.dumps(message, sort_keys=True).encode()
    cipher = _keystream_xor(key, nonce, plain)
    tag = hmac_digest(key, b"seal|" + nonce.encode() + b"|" + cipher, _DIGEST).hex()
    return binascii.b2a_base64(cipher, newline=False).decode("ascii"), tag


def open_sealed(key: bytes, nonce: str, ciphertext: str, tag: str) -> dict[str, Any] | None:
    """The message :func:`seal` sealed, or ``None`` if it was altered or sealed with another key."""
    try:
        cipher = binascii.a2b_base64(ciphertext.encode("ascii"))
    except (binascii.Error, UnicodeError, AttributeError):
        return None
    expected = hmac_digest(key, b"seal|" + nonce.encode() + b"|" + cipher, _DIGEST).hex()
    if not isinstance(tag, str) or not compare_digest(expected, tag):
        return None
    message = json.loads(_keystream_xor(key, nonce, cipher).decode())
    return message if isinstance(message, dict) else None


def sign(key: bytes, nonce: str, payload: str) -> str:
    """The tag that proves the sentinel, holding ``key``, wrote ``payload`` for ``nonce``."""
    return hmac_digest(key, b"verdict|" + nonce.encode() + b"|" + payload.encode(), _DIGEST).hex()


def verify(key: bytes, nonce: str, payload: str, tag: str) -> bool:
    """Whether ``tag`` is :func:`sign`'s tag for this nonce and payload."""
    return isinstance(tag, str) and compare_digest(sign(key, nonce, payload), tag)


def stub(nonce: str, ciphertext: str, tag: str) -> str:
    """The code sent in place of a sealed cell (nothing a student can read): open it, run
    what the sentinel hands back, and say when it has ended."""
    box = f"__grading_box_{nonce}__"
    return (f"__import__('sys').audit({AUDIT_EVENT!r}, {nonce!r}, {ciphertext!r}, {tag!r}, {box} := [])\n"
            f"try:\n"
            f"    exec({box}.pop()) if {box} else None\n"
            f"finally:\n"
            f"    del {box}\n"
            f"    __import__('sys').audit({DONE_EVENT!r}, {nonce!r})\n")
