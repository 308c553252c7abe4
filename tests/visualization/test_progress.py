"""Progress bars of the tools: on when asked, off otherwise."""
from sdae_plugin.visualization import progress


def test_progress_draws_a_bar_when_asked(capsys):
    assert list(progress(range(3), 'work', enable=True)) == [0, 1, 2]
    assert 'work' in capsys.readouterr().err
    assert list(progress(range(3), 'quiet', enable=False)) == [0, 1, 2]
    assert 'quiet' not in capsys.readouterr().err
