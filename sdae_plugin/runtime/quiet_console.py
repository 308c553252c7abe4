"""Keep MMEngine's bulk log records off the terminal (log files keep them).

MMEngine logs some things once per parameter with no switch of their own: the optimizer
constructor's ``paramwise_options -- <name>:<key>=<value>`` (three INFO lines per parameter, and
a warning for each frozen one) and, outside a ``Runner`` (which sends it to its log file),
``init_weights``'s initialization report (one block per parameter). ``CheckpointHook`` warns at
every start that ``FileClient``, which it builds whether used or not, is deprecated. A config's
``log_level='WARNING'`` would hide the training progress too; this context only filters the
console handlers of the current ``MMLogger`` while it is open.
"""
import logging
import re
from contextlib import contextmanager
from typing import Iterator

from mmengine.logging import MMLogger


class _Drop(logging.Filter):
    """Drops records at ``level`` or below whose message matches (from its start) one of
    ``patterns`` (every such record when there are none)."""

    def __init__(self, patterns, level: int) -> None:
        super().__init__()
        self.patterns, self.level = [re.compile(p) for p in patterns], level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > self.level:
            return True
        message = record.getMessage()
        return bool(self.patterns) and not any(p.match(message) for p in self.patterns)


@contextmanager
def quiet_console(*patterns: str, level: int = logging.INFO) -> Iterator[None]:
    """Hide records at ``level`` or below that match ``patterns`` (regular expressions, from
    the start of the message; every record if none is given) from the terminal. Handlers that
    write files are not touched.

    Example:
        >>> with quiet_console('paramwise_options -- ', r'\S+ is skipped since',
        ...                    level=logging.WARNING):
        ...     optim_wrapper = constructor(model)
    """
    consoles = [handler for handler in MMLogger.get_current_instance().handlers
                if isinstance(handler, logging.StreamHandler)
                and not isinstance(handler, logging.FileHandler)]
    drop = _Drop(patterns, level)
    for handler in consoles:
        handler.addFilter(drop)
    try:
        yield
    finally:
        for handler in consoles:
            handler.removeFilter(drop)
