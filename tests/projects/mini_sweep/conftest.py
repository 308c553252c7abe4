import pytest

from projects.mini_sweep import StagePlan, make_settings


@pytest.fixture(scope='session')
def mini_protocol():
    """Factory: ``mini_protocol(**sweep_options)`` is the resolved-config protocol of the mini
    sweep with those options, cached per options."""
    cache = {}

    def build(**options):
        key = repr(sorted(options.items()))
        if key not in cache:
            cache[key] = StagePlan(make_settings(work_dir='/tmp/unused_mini',
                                                 **options)).protocol()
        return cache[key]
    return build
