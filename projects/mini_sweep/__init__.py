"""The miniature SdAE-vs-MAE sweep on Fashion-MNIST (``tools/reproduce_mini.py``).

A research harness that runs from a clone of the repository (it runs the clone's ``tools/`` as
subprocesses); it is not part of the ``sdae_plugin`` package. The modules:

- :mod:`.rows`: the rows (one pretraining config each), the paper's claims, the metrics;
- :mod:`.settings`: the sweep's options and named presets;
- :mod:`.stages`: the command of every stage and the config it runs;
- :mod:`.floor`: the floor row's random-init encoder (the one step run in-process);
- :mod:`.results`: the resumable ``results.json`` store;
- :mod:`.protocol`: the setup as the resolved configs state it;
- :mod:`.report`, :mod:`.plot`: the Markdown report and the kNN-vs-epoch PNG;
- :mod:`.sweep`: the driver.

From the repository root::

    from projects.mini_sweep import make_settings, run_sweep
    run_sweep(make_settings(rows=['sdae', 'mae'], dry_run=True), 'python tools/reproduce_mini.py')
"""
from .protocol import Protocol, config_changes, describe
from .report import ReportContext, render_report
from .results import ResultStore, SettingsMismatch, last_metric
from .rows import CLAIMS, MAIN_ROWS, METRICS, ROWS, Claim, Row
from .settings import PRESETS, SweepInputError, SweepSettings, make_settings
from .stages import Stage, StagePlan, resolve_config
from .sweep import SweepOutcome, run_sweep

__all__ = [
    'Protocol', 'config_changes', 'describe', 'ReportContext', 'render_report', 'ResultStore',
    'SettingsMismatch', 'last_metric', 'CLAIMS', 'MAIN_ROWS', 'METRICS', 'ROWS', 'Claim', 'Row',
    'PRESETS', 'SweepInputError', 'SweepSettings', 'make_settings', 'Stage', 'StagePlan',
    'resolve_config', 'SweepOutcome', 'run_sweep'
]
