"""Progress bars for the command-line tools: tqdm when it is installed and stderr is a terminal."""
from typing import Iterable, Optional


def progress(iterable: Iterable, desc: str, total: Optional[int] = None,
             enable: Optional[bool] = None) -> Iterable:
    """Wrap ``iterable`` in a tqdm bar on stderr.

    Args:
        iterable: what to iterate over.
        desc (str): the bar's label.
        total (int, optional): the length, if ``iterable`` has none.
        enable (bool, optional): force the bar on (True) or off (False); by default it is shown
            only on a terminal, so logs and CI output stay clean.

    Without tqdm (it is optional) the iterable is returned unchanged.
    """
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True,
                disable=None if enable is None else not enable)
