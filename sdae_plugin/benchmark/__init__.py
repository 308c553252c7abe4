"""Side-by-side step timing of MAE and SdAE's teacher feedings (``tools/benchmark.py``)."""
from .flops import ViTShape, train_step_flops
from .rows import ARCHS, ROWS, build, default_rows, shape_of
from .run import BenchmarkOptions, run_benchmark, summary, table

__all__ = ['ViTShape', 'train_step_flops', 'ARCHS', 'ROWS', 'build', 'default_rows', 'shape_of',
           'BenchmarkOptions', 'run_benchmark', 'summary', 'table']
