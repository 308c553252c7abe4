"""The errors of encoder I/O: keys that do not match a model, and an unknown head count."""
from typing import Sequence


class BackboneKeyError(ValueError):
    """A backbone state dict does not match the model it is meant for; the message lists why."""

    def __init__(self, missing: Sequence[str] = (), unexpected: Sequence[str] = (),
                 mismatched: Sequence[str] = (), context: str = '') -> None:
        self.missing, self.unexpected = sorted(missing), sorted(unexpected)
        self.mismatched = sorted(mismatched)
        lines = [f'Backbone keys do not match{(" " + context) if context else ""}:']
        for title, keys in (('missing (in the model, not in the checkpoint)', self.missing),
                            ('unexpected (in the checkpoint, not in the model)', self.unexpected),
                            ('shape mismatch', self.mismatched)):
            if keys:
                lines.append(f'  {title}: {len(keys)}')
                lines.extend(f'    {key}' for key in keys)
        super().__init__('\n'.join(lines))


class HeadCountError(ValueError):
    """The number of attention heads of an encoder is unknown or stated inconsistently.

    The weights do not determine it (no tensor's shape depends on it), yet the same weights with
    another head count compute other features: it must come from a config or the file's meta.
    """
