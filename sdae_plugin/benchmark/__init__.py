"""Side-by-side step timing of MAE, SdAE's teacher feedings and the released code's step
(``tools/benchmark.py``), and the check of our step against the released one."""
from .check import check_against_released, check_released
from .flops import ViTShape, train_step_flops
from .released import ReleasedCode, load_released_code, released_loss
from .rows import ARCHS, ROWS, build, default_rows, shape_of
from .run import BenchmarkOptions, run_benchmark, summary, table

__all__ = ['ViTShape', 'train_step_flops', 'ARCHS', 'ROWS', 'build', 'default_rows', 'shape_of',
           'BenchmarkOptions', 'run_benchmark', 'summary', 'table', 'ReleasedCode',
           'load_released_code', 'released_loss', 'check_against_released', 'check_released']
