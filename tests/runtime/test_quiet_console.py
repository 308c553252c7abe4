"""quiet_console: matching records leave the terminal but stay in the log file."""
import logging
import uuid

from mmengine.logging import MMLogger, print_log

from sdae_plugin.runtime import quiet_console


def test_hides_matches_from_the_console_only(tmp_path, capsys):
    log_file = tmp_path / 'run.log'
    MMLogger.get_instance(f'quiet-{uuid.uuid4().hex}', log_file=str(log_file))  # now current
    with quiet_console('paramwise_options -- ', r'\S+ is skipped since', level=logging.WARNING):
        print_log('paramwise_options -- neck.bias:lr=0.1', logger='current')
        print_log('backbone.pos_embed is skipped since its requires_grad=False',
                  logger='current', level=logging.WARNING)
        print_log('Epoch(train) [1][10/64]', logger='current')
        print_log('paramwise_options -- but an error', logger='current', level=logging.ERROR)
    print_log('paramwise_options -- after the context', logger='current')
    console = capsys.readouterr().out
    assert 'neck.bias' not in console and 'pos_embed' not in console
    assert 'Epoch(train) [1][10/64]' in console  # other records pass
    assert 'but an error' in console  # above `level`
    assert 'after the context' in console  # the filter is removed on exit
    logged = log_file.read_text()
    assert 'neck.bias:lr=0.1' in logged and 'pos_embed is skipped' in logged


def test_without_patterns_every_record_up_to_level_is_hidden(capsys):
    MMLogger.get_instance(f'quiet-{uuid.uuid4().hex}')
    with quiet_console():
        print_log('\nbackbone.cls_token - torch.Size([1, 1, 32]):', logger='current')
        print_log('a warning', logger='current', level=logging.WARNING)
    console = capsys.readouterr().out
    assert 'cls_token' not in console and 'a warning' in console
