"""Finding the first byte of a file that is not UTF-8 (core/text_encoding.py)."""

from __future__ import annotations

import gzip

import pytest

from fedscore.core.text_encoding import first_non_utf8, not_utf8_message


@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 5, 1 << 20])
def test_position_is_the_same_whatever_the_chunks(tmp_path, chunk_bytes):
    path = tmp_path / "t.csv"
    good = "a,名字\n1,马莹\n".encode()
    path.write_bytes(good + b"2," + "孙".encode("gbk") + b"\n")
    assert first_non_utf8(path, chunk_bytes) == (3, len(good) + 2)


def test_a_sequence_cut_off_at_the_end_is_found(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a\n" + "马".encode()[:2])
    assert first_non_utf8(path, chunk_bytes=1) == (2, 2)


def test_utf8_and_gzip(tmp_path):
    plain = tmp_path / "t.csv"
    plain.write_text("a,名字\n", encoding="utf-8")
    assert first_non_utf8(plain) is None
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(b"a\nb\n" + "马".encode("gbk")))
    assert first_non_utf8(packed) == (3, 4)
    assert first_non_utf8(tmp_path / "absent.csv") is None


def test_message_never_quotes_the_bytes(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"id,name\n1," + "马莹".encode("gbk") + b"\n")
    message = not_utf8_message(path)
    assert "line 2, byte 10" in message and "UTF-8" in message
    assert "马" not in message and "\\x" not in message
