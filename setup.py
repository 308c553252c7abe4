"""sdae-plugin: SdAE (Self-distillated Masked Autoencoder) for the OpenMMLab stack.

The package carries MIM's extension, ``sdae_plugin/.mim/`` with ``configs/``, ``tools/`` and
``model-index.yml``, as OpenMMLab packages do (``mim train/test/run/search sdae_plugin``,
``_base_ = 'sdae_plugin::NAME'``). In the repository these three are relative symbolic links to
the top-level originals, so a clone and an editable install see the live files; building a wheel
or an sdist follows the links and copies the files (the equivalent of MMPretrain's
``add_mim_extension``, without writing into the source tree at build time).

mmcv is not a requirement here: pretraining needs only the pure-Python ``mmcv-lite``
(``pip install sdae-plugin[pretrain]``); detection and segmentation need mmcv with its compiled
ops, which pip cannot build in isolation (install it first, see README), then ``[det]``/``[seg]``.
"""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
MIM = '.mim'
# tools/ files that a package has no use for: the set-up script of the repository's environment,
# and the lab's tools, which import projects/ (a clone's research harness, not shipped).
CLONE_ONLY_TOOLS = ['setup_env.sh', 'reproduce_mini.py', 'benchmark.py', 'benchmark_suite.py',
                    'benchmark_loading.py', 'gpu_benchmark.sh', 'gpu_sweep.sh', 'gpu_wheels.sh']


def read_version() -> str:
    """``__version__`` of sdae_plugin/version.py, the one place the version is written."""
    namespace = {}
    exec((HERE / 'sdae_plugin' / 'version.py').read_text(), namespace)
    return namespace['__version__']


def read_requirements(name: str) -> list:
    """Requirement lines of requirements/NAME; exact pins live in requirements/constraints.txt."""
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    lines = (line.split('#')[0].strip() for line in lines)
    return [line for line in lines if line]


setup(
    name='sdae-plugin',
    version=read_version(),
    description='SdAE: Self-distillated Masked Autoencoder as an MMPretrain plugin',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['sdae_plugin', 'sdae_plugin.*']),
    package_data={
        'sdae_plugin': [
            f'{MIM}/model-index.yml',
            f'{MIM}/configs/**/*.py',
            f'{MIM}/configs/**/*.yml',
            f'{MIM}/tools/*.py',
            f'{MIM}/tools/*.sh',
        ]
    },
    exclude_package_data={'sdae_plugin': [f'{MIM}/tools/{name}' for name in CLONE_ONLY_TOOLS]},
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'pretrain': read_requirements('pretrain.txt'),
        'det': read_requirements('det.txt'),
        'seg': read_requirements('seg.txt'),
        'mim': read_requirements('mim.txt'),
        'tests': read_requirements('tests.txt'),
    },
)
