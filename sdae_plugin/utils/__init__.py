from .quiet_console import quiet_console

__all__ = ['quiet_console']
