"""The SdAE step benchmark: MAE, SdAE's teacher feedings and the released code's step side by side.

A research tool that runs from a clone of the repository (``tools/benchmark.py``,
``tools/benchmark_suite.py``, ``tools/benchmark_loading.py``); it is not part of the
``sdae_plugin`` package. The modules:

- :mod:`.rows`: the models compared (the paper's Table 1 rows, the fast rows, the released code);
- :mod:`.step`: one timed training step, and the parts of an SdAE step timed alone;
- :mod:`.measure`: synchronized timing, peak memory, the GEMM ceiling;
- :mod:`.flops`: analytic FLOPs of a step;
- :mod:`.run`: the benchmark (round-robin timing, report, table);
- :mod:`.released`: the released code, imported from the user's checkout;
- :mod:`.check`: our step against the released one, with the same weights and masks;
- :mod:`.suite`: the GPU script's run (check, rows, largest batch);
- :mod:`.loading`: data loading per image against a batch at a time.

From the repository root::

    from projects.benchmark import BenchmarkOptions, run_benchmark, summary
    print(summary(run_benchmark(BenchmarkOptions(arch='tiny', batch=2, steps=2))))
"""
from .check import check_against_released, check_released
from .flops import ViTShape, train_step_flops
from .loading import loading_table, measure_loading
from .released import ReleasedCode, load_released_code, released_loss
from .rows import ARCHS, ROWS, build, default_rows, shape_of
from .run import BenchmarkOptions, run_benchmark, summary, table
from .suite import SuiteOptions, run_suite, suite_markdown

__all__ = [
    'ARCHS', 'ROWS', 'BenchmarkOptions', 'ReleasedCode', 'SuiteOptions', 'ViTShape', 'build',
    'check_against_released', 'check_released', 'default_rows', 'load_released_code',
    'loading_table', 'measure_loading', 'released_loss', 'run_benchmark', 'run_suite',
    'shape_of', 'summary', 'suite_markdown', 'table', 'train_step_flops'
]
