"""Chinese full names from Faker's ``zh_CN`` locale (Faker: the `demo` extra)."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

from fedscore.core.errors import ConfigError

if TYPE_CHECKING:
    from faker import Faker

MISSING_FAKER = (
    "the demo's synthetic identities need Faker, an optional dependency: "
    "pip install 'fedscore[demo]'"
)


def person_names(seed: int, stream: str, male: np.ndarray) -> list[str]:
    """A full name per person, male or female as given.

    Args:
        seed: the market's seed.
        stream: the table the names are for (each table has its own name stream).
        male: per person, whether he is a man.

    Returns:
        One name per person.

    Raises:
        ConfigError: Faker is not installed.
    """
    fake = _faker(seed, stream)
    # zh_CN's name_male()/name_female() ignore the sex; its first-name lists do not.
    return [
        fake.last_name() + (fake.first_name_male() if m else fake.first_name_female()) for m in male
    ]


def _faker(seed: int, stream: str) -> Faker:
    try:
        from faker import Faker
    except ModuleNotFoundError as error:
        if error.name != "faker":
            raise
        raise ConfigError(MISSING_FAKER) from error
    fake = Faker("zh_CN")
    fake.seed_instance(seed * 1_000_003 + zlib.crc32(stream.encode()))
    return fake
