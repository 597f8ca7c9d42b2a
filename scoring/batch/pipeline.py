"""Mapping a function over a stream on a few threads, results in order, memory bounded."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def ordered_map(
    work: Callable[[Item], Result], items: Iterable[Item], threads: int
) -> Iterator[Result]:
    """`work` of each item, in the items' order, computed by `threads` threads.

    NumPy and Arrow release the GIL in their kernels, so chunks of a book are scored
    side by side. At most `threads` items are in flight (read ahead of the one
    yielded), so memory stays bounded by the chunk size. An item whose work raises
    raises here at its turn: the first bad item in order is the one reported.

    Args:
        work: what to compute for one item.
        items: the stream (read by the calling thread).
        threads: threads computing (1: in the calling thread, nothing in flight).
    """
    if threads <= 1:
        yield from map(work, items)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fedscore-score") as pool:
        pending: deque[Future[Result]] = deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) >= threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
