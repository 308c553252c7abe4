"""Experiments as package code: the miniature SdAE-vs-MAE sweep (``tools/reproduce_mini.py``).

- :mod:`.rows`: the rows (one pretraining config each), the paper's claims, the metrics;
- :mod:`.settings`: the sweep's options and named presets;
- :mod:`.stages`: the command of every stage (tools run as subprocesses) and its resolved config;
- :mod:`.floor`: the floor row's random-init encoder (the one in-process step);
- :mod:`.results`: the resumable ``results.json`` store;
- :mod:`.protocol`: the setup as the resolved configs state it;
- :mod:`.report`, :mod:`.plot`: the Markdown report and the kNN-vs-epoch PNG;
- :mod:`.sweep`: the driver.

Not imported by ``import sdae_plugin`` (nothing here is registered)::

    from sdae_plugin.experiments import make_settings, run_sweep
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
