"""How the grader and the kernel's sentinel talk: sealed cells in, signed verdicts out.

The grader does not send a locked cell's source (a test cell, or a locked helper cell)
to the kernel as it is. It sends a one-line *stub* that raises an audit event carrying
the cell *sealed* with a key that only the grader and the sentinel hold. The sentinel (an
audit hook installed before any student code ran) opens it, restores a pristine state,
runs the cell, and publishes a *verdict* signed with the same key. A verdict that is
missing or does not verify means that something stood between the grader and the
sentinel, and the test scores 0.

Threat model. Student code runs in the kernel's process: it can read everything the
kernel received (its input history holds every stub, so every sealed cell), raise the
audit events itself, replay or alter stubs, print anything, and rebind any Python-level
name, including this module's globals (the sentinel puts those back) and the attributes
of the ``cryptography`` classes. It cannot read the key (it lives in the sentinel's
closure) nor change what a function implemented in C or Rust does. Hence:

* cells are sealed with an AEAD, AES-256-GCM from ``cryptography``: encrypted, because
  the hidden tests must stay hidden from a kernel that holds them in its history, and
  authenticated, so that a test cannot be altered or forged. The nonce and a domain label
  are the associated data: a sealed cell opens only under its own nonce;
* verdicts are signed with HMAC-SHA256 (the verdict itself is no secret: the grader just
  needs to know that the sentinel wrote it), with a key derived apart from the sealing key;
* nonces are random and used once (the sentinel refuses a nonce it has seen, the grader
  accepts one verdict per nonce), so a stub or a verdict cannot be replayed.

What the kernel calls to open a cell is implemented in C or Rust and bound at import,
which happens before any student code runs: ``_hashlib.hmac_digest``, ``binascii``,
``marshal.loads`` and ``AESGCM``'s constructor and ``decrypt`` method. Rebinding names
later changes nothing here, and neither the key nor the plaintext passes through Python
code that student code could have replaced (replacing ``AESGCM.__new__`` makes opening
fail, never leak the key). That is also why the plaintext is ``marshal``'s format, not
JSON: ``json.loads`` is Python that reads patchable module globals, and it would run
before the sentinel restores the pristine state.
"""

from __future__ import annotations

import binascii
import marshal
import os
import sys
import types
from _hashlib import hmac_digest
from collections.abc import Callable
from hmac import compare_digest
from typing import Any

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError as error:  # a course environment installed by hand: say so, do not score zeros
    raise ImportError(f"the hardened grader seals test cells with the 'cryptography' package, which this Python "
                      f"({sys.executable}) cannot import ({error}); install the course's requirements.txt "
                      f"into it") from error
if isinstance(AESGCM.decrypt, types.FunctionType):  # cryptography < 43: Python, which student code can swap
    raise ImportError("the hardened grader needs cryptography 43 or later (AESGCM implemented in Rust)")

__all__ = [
    "AUDIT_EVENT",
    "DONE_EVENT",
    "KEY_BYTES",
    "MIMETYPE",
    "OUTCOME_EVENT",
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
_NONCE_BYTES = 12  # AES-GCM's native nonce size; random, so at most 2**32 cells per key
_TAG_BYTES = 16
# Bound now, while only trusted code has run (see the module docstring).
_new_aead: Callable[..., AESGCM] = AESGCM.__new__  # called as _new_aead(AESGCM, key)
_encrypt = AESGCM.encrypt
_decrypt = AESGCM.decrypt
_loads, _dumps = marshal.loads, marshal.dumps
_MARSHAL_VERSION = 4  # the same bytes on every Python the grader supports (3.4 and later read it)


def new_key() -> bytes:
    """A fresh random key, one per kernel."""
    return os.urandom(KEY_BYTES)


def new_nonce() -> str:
    """A fresh random nonce (hex), one per sealed cell: verdicts cannot be replayed."""
    return os.urandom(_NONCE_BYTES).hex()


def _subkey(key: bytes, purpose: bytes) -> bytes:
    """One key per use (sealing, signing), derived from the kernel's key."""
    return hmac_digest(key, b"course-grading|" + purpose, _DIGEST)


def _nonce_and_label(nonce: str) -> tuple[bytes, bytes]:
    """The AEAD nonce and associated data for one sealed cell; ValueError if malformed."""
    raw = bytes.fromhex(nonce)
    if len(raw) != _NONCE_BYTES:
        raise ValueError("a nonce has 12 bytes")
    return raw, b"course-grading sealed cell|" + nonce.encode("ascii")


def seal(key: bytes, nonce: str, message: dict[str, Any]) -> tuple[str, str]:
    """Encrypt and authenticate ``message`` (a dict of plain values) for ``nonce``; return
    (ciphertext, tag) as text."""
    if not isinstance(message, dict):
        raise TypeError(f"a sealed message is a dict, not {type(message).__name__}")
    raw, label = _nonce_and_label(nonce)
    sealed = _encrypt(_new_aead(AESGCM, _subkey(key, b"seal")), raw, _dumps(dict(message), _MARSHAL_VERSION), label)
    cipher, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
    return binascii.b2a_base64(cipher, newline=False).decode("ascii"), tag.hex()


def open_sealed(key: bytes, nonce: str, ciphertext: str, tag: str) -> dict[str, Any] | None:
    """The message :func:`seal` sealed, or ``None`` if it was altered or sealed with another key."""
    try:
        raw, label = _nonce_and_label(nonce)
        if len(tag) != 2 * _TAG_BYTES:
            return None
        sealed = binascii.a2b_base64(ciphertext.encode("ascii")) + bytes.fromhex(tag)
        # marshal.loads is not safe on untrusted bytes: these were authenticated first.
        message = _loads(_decrypt(_new_aead(AESGCM, _subkey(key, b"seal")), raw, sealed, label))
    # Whatever goes wrong fails closed: altered or foreign cells (InvalidTag), malformed
    # arguments (the audit event may come from student code), an AESGCM whose __new__ was
    # replaced (TypeError), or an exception class the student put in cryptography's place.
    except Exception:
        return None
    return message if type(message) is dict else None


def sign(key: bytes, nonce: str, payload: str) -> str:
    """The tag that proves the sentinel, holding ``key``, wrote ``payload`` for ``nonce``."""
    return hmac_digest(_subkey(key, b"verdict"), nonce.encode() + b"|" + payload.encode(), _DIGEST).hex()


def verify(key: bytes, nonce: str, payload: str, tag: str) -> bool:
    """Whether ``tag`` is :func:`sign`'s tag for this nonce and payload."""
    return isinstance(tag, str) and compare_digest(sign(key, nonce, payload), tag)


def stub(nonce: str, ciphertext: str, tag: str, awaited: bool = False) -> str:
    """The code sent in place of a sealed cell (nothing a student can read): open it, run
    what the sentinel hands back, and say when it has ended.

    ``awaited``: the cell uses top-level ``await`` (08's tests await the answers). The
    sentinel then compiles it as IPython compiles such a cell, ``eval`` gives a coroutine,
    and the stub awaits it in the kernel's running event loop; IPython sees the ``await``
    in the stub and runs the stub as an async cell.
    """
    box = f"__grading_box_{nonce}__"
    run = (f"    if {box} and ({box} := eval({box}.pop())) is not None:\n"
           f"        await {box}\n") if awaited else f"    exec({box}.pop()) if {box} else None\n"
    return (f"__import__('sys').audit({AUDIT_EVENT!r}, {nonce!r}, {ciphertext!r}, {tag!r}, {box} := [])\n"
            f"try:\n"
            f"{run}"
            f"finally:\n"
            f"    del {box}\n"
            f"    __import__('sys').audit({DONE_EVENT!r}, {nonce!r})\n")
