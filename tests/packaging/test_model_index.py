"""model-index.yml and the metafiles: every config is listed once, by its file name."""
from pathlib import Path

import yaml
from modelindex.load_model_index import load

ROOT = Path(__file__).resolve().parents[2]
# Config families with a metafile: each of their configs is a model of `mim search sdae_plugin`.
FAMILIES = ['configs/*.py', 'configs/ablations/*.py', 'configs/benchmarks/*.py',
            'configs/mini/*.py']


def metafile_models() -> list:
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    return [model for path in index['Import']
            for model in yaml.safe_load((ROOT / path).read_text())['Models']]


def test_index_imports_every_metafile():
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    on_disk = {str(p.relative_to(ROOT)) for p in ROOT.glob('configs/**/metafile.yml')}
    assert sorted(index['Import']) == sorted(on_disk)


def test_every_config_is_one_model_named_after_its_file():
    models = metafile_models()
    configs = [m['Config'] for m in models]
    assert len(configs) == len(set(configs))
    expected = {str(p.relative_to(ROOT)) for family in FAMILIES for p in ROOT.glob(family)}
    assert set(configs) == expected
    for model in models:
        assert model['Name'] == Path(model['Config']).stem


def test_mim_reads_the_index():
    # The loader `mim search` uses: collections resolve and the models come through.
    index = load(str(ROOT / 'model-index.yml'))
    assert {m.name for m in index.models} == {m['Name'] for m in metafile_models()}
    assert all(m.in_collection in {c.name for c in index.collections} for m in index.models)
