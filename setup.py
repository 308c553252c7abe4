"""sdae-plugin: SdAE (Self-distillated Masked Autoencoder) for the OpenMMLab stack."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements(name: str) -> list:
    """Top-level requirement names; their versions live in requirements/constraints.txt."""
    lines = (HERE / 'requirements' / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


setup(
    name='sdae-plugin',
    version='0.1.0',
    description='SdAE: Self-distillated Masked Autoencoder as an MMPretrain plugin',
    long_description=(HERE / 'README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['sdae_plugin', 'sdae_plugin.*']),
    install_requires=read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
)
