"""grader_kernel.protocol: sealed cells and signed verdicts, without a kernel."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader_kernel import protocol

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = {"kind": "test", "grade_id": "test_x", "source": "### BEGIN HIDDEN TESTS\nassert 6 * 7 == 42\n"}


@pytest.fixture
def sealed() -> tuple[bytes, str, str, str]:
    key, nonce = protocol.new_key(), protocol.new_nonce()
    ciphertext, tag = protocol.seal(key, nonce, MESSAGE)
    return key, nonce, ciphertext, tag


def _flip(text: str, at: int = 0) -> str:
    """``text`` (base64 or hex) with one byte of what it encodes changed."""
    if all(c in "0123456789abcdef" for c in text):
        raw = bytearray(bytes.fromhex(text))
        raw[at] ^= 1
        return raw.hex()
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def test_round_trip_and_fresh_values(sealed):
    key, nonce, ciphertext, tag = sealed
    assert protocol.open_sealed(key, nonce, ciphertext, tag) == MESSAGE
    assert len(key) == protocol.KEY_BYTES and key != protocol.new_key()
    assert nonce != protocol.new_nonce() and int(nonce, 16) >= 0
    # Same message, same key, another nonce: nothing in common to compare.
    again = protocol.seal(key, protocol.new_nonce(), MESSAGE)
    assert again[0] != ciphertext and again[1] != tag


def test_the_ciphertext_hides_the_source(sealed):
    _, nonce, ciphertext, tag = sealed
    shown = protocol.stub(nonce, ciphertext, tag) + base64.b64decode(ciphertext).decode("latin-1")
    for secret in ("HIDDEN", "6 * 7", "assert", "test_x"):
        assert secret not in shown


@pytest.mark.parametrize("part", ["ciphertext", "ciphertext-end", "tag", "nonce", "key"])
def test_any_change_is_rejected(sealed, part):
    key, nonce, ciphertext, tag = sealed
    changed: dict[str, Any] = {"key": key, "nonce": nonce, "ciphertext": ciphertext, "tag": tag}
    if part == "ciphertext-end":
        changed["ciphertext"] = _flip(ciphertext, len(base64.b64decode(ciphertext)) - 1)
    elif part == "key":
        changed["key"] = bytes([key[0] ^ 1]) + key[1:]
    else:
        changed[part] = _flip(changed[part])
    assert protocol.open_sealed(**changed) is None, f"a cell with a changed {part} opened"


@pytest.mark.parametrize("args", [
    ("not hex", "AAAA", "00" * 16),
    ("00" * 16, "AAAA", "00" * 16),  # a nonce of the wrong size
    (None, "AAAA", "00" * 16),
    ("00" * 12, "%%% not base64", "00" * 16),
    ("00" * 12, "", ""),
    ("00" * 12, 42, "00" * 16),
    ("00" * 12, "AAAA", ["not", "text"]),
], ids=["nonce-not-hex", "nonce-size", "nonce-none", "ciphertext-not-base64", "empty", "ciphertext-int", "tag-list"])
def test_malformed_arguments_do_not_open_or_raise(args):
    # The audit event's arguments can come from student code: nothing may raise.
    assert protocol.open_sealed(protocol.new_key(), *args) is None


def test_truncated_or_extended_is_rejected(sealed):
    key, nonce, ciphertext, tag = sealed
    raw = base64.b64decode(ciphertext)
    assert protocol.open_sealed(key, nonce, base64.b64encode(raw[:-1]).decode(), tag) is None
    assert protocol.open_sealed(key, nonce, base64.b64encode(raw + b"\0").decode(), tag) is None
    assert protocol.open_sealed(key, nonce, ciphertext, tag[:-2]) is None


def test_only_a_dict_is_a_message():
    key, nonce = protocol.new_key(), protocol.new_nonce()
    with pytest.raises(TypeError):
        protocol.seal(key, nonce, ["a", "list"])  # type: ignore[arg-type]
    ciphertext, tag = protocol.seal(key, nonce, {})
    assert protocol.open_sealed(key, nonce, ciphertext, tag) == {}


def test_verdicts_are_signed_for_one_nonce_and_payload():
    key, nonce = protocol.new_key(), protocol.new_nonce()
    payload = '{"outcome": "passed"}'
    tag = protocol.sign(key, nonce, payload)
    assert protocol.verify(key, nonce, payload, tag)
    assert not protocol.verify(key, nonce, '{"outcome": "failed"}', tag)
    assert not protocol.verify(key, protocol.new_nonce(), payload, tag), "a verdict replayed under another nonce"
    assert not protocol.verify(protocol.new_key(), nonce, payload, tag)
    assert not protocol.verify(key, nonce, payload, "00" * 32)
    assert not protocol.verify(key, nonce, payload, None)  # type: ignore[arg-type]


def test_a_sealing_tag_is_no_verdict_signature(sealed):
    """Sealing and signing use keys derived apart: one cannot stand for the other."""
    key, nonce, ciphertext, tag = sealed
    assert not protocol.verify(key, nonce, ciphertext, tag)


def test_stub_compiles_and_raises_the_events_in_order(sealed):
    _, nonce, ciphertext, tag = sealed
    code = compile(protocol.stub(nonce, ciphertext, tag), "<stub>", "exec")
    events: list[tuple[str, tuple[Any, ...]]] = []
    script = f"""
import sys
events = []
def hook(event, args):
    if event.startswith("grader."):
        events.append((event, args[:4]))
        if event == {protocol.AUDIT_EVENT!r}:
            args[3].append("opened = True")
sys.addaudithook(hook)
exec({protocol.stub(nonce, ciphertext, tag)!r})
print(repr((events, opened, sorted(k for k in globals() if k.startswith("__grading")))))
"""
    assert code.co_filename == "<stub>"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    events, opened, leftovers = eval(result.stdout)  # our own repr of plain values
    assert events == [(protocol.AUDIT_EVENT, (nonce, ciphertext, tag, [])), (protocol.DONE_EVENT, (nonce,))]
    assert opened is True and leftovers == [], "the stub ran what it was handed and cleaned up after itself"


def test_patched_cryptography_classes_change_nothing():
    """What the kernel uses was bound at import: student code rebinding AESGCM's methods
    neither sees the key nor the plaintext, nor changes what opens. In a fresh Python, as
    in a kernel: replacing a type's __new__ cannot be fully undone in the process that did it,
    so this must not run in a test worker that goes on sealing cells."""
    script = """
from typing import Any
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from grader_kernel import protocol

message = {"kind": "test", "grade_id": "test_x", "source": "assert 6 * 7 == 42"}
key, nonce = protocol.new_key(), protocol.new_nonce()
ciphertext, tag = protocol.seal(key, nonce, message)
seen: list[Any] = []
AESGCM.decrypt = lambda self, *args: seen.append(args) or b"forged"
assert protocol.open_sealed(key, nonce, ciphertext, tag) == message, "a replaced decrypt changed what opens"
original_new = AESGCM.__new__

def spy_new(cls, *args):
    seen.append(args)
    return original_new(cls, *args)

AESGCM.__new__ = spy_new
assert protocol.open_sealed(key, nonce, ciphertext, tag) is None, "expected opening to fail closed"
assert seen == [], "the key or the plaintext went through replaced code"
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_a_python_without_cryptography_fails_loudly():
    script = "import sys; sys.modules['cryptography'] = None; import grader_kernel.protocol"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode != 0
    assert "'cryptography' package" in result.stderr and "requirements.txt" in result.stderr, result.stderr
