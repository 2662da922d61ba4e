"""Weights loading: PaddleSeg-format pickles, strict vs lenient loading, clear user errors."""
import os
import pickle
import tarfile
import urllib.request
import warnings
import zipfile

import numpy as np
import paddle
import pytest

from paddleseg_lite.models import AttentionUNet, UNet, load_entire_model, load_pretrained_model
from paddleseg_lite.models.checkpoint_io import CACHE_ENV, NAME_TABLE_KEY, cache_dir
from paddleseg_lite.utils.errors import UserError


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Relative paths and the download cache stay inside tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))


def _tiny(num_classes=2, seed=0, **kwargs):
    paddle.seed(seed)
    model = UNet(num_classes=num_classes, base_channels=4, **kwargs)
    model.eval()
    return model


def _write_paddleseg_pickle(model, path, drop=()):
    """Write a .pdparams the way Paddle/PaddleSeg does: protocol 4, numpy arrays, name table."""
    state = {k: v.numpy() for k, v in model.state_dict().items() if k not in drop}
    state[NAME_TABLE_KEY] = {k: 'param_%d' % i for i, k in enumerate(state)}
    with open(path, 'wb') as f:
        pickle.dump(state, f, protocol=4)
    return str(path)


def _randomise_bn_stats(model, seed=3):
    rng = np.random.RandomState(seed)
    for key, value in model.state_dict().items():
        if key.endswith(('_mean', '_variance')):
            value.set_value(rng.uniform(0.5, 1.5, value.shape).astype('float32'))


def test_paddleseg_pickle_round_trip_gives_identical_outputs(tmp_path):
    source = _tiny(seed=1)
    _randomise_bn_stats(source)
    path = _write_paddleseg_pickle(source, tmp_path / 'model.pdparams')
    target = _tiny(seed=2)
    x = paddle.randn([1, 3, 37, 29])
    assert not np.allclose(source(x)[0].numpy(), target(x)[0].numpy())
    report = load_entire_model(target, path)
    assert not report['missing'] and not report['mismatched'] and not report['unexpected']
    assert len(report['loadable']) == 112
    np.testing.assert_array_equal(source(x)[0].numpy(), target(x)[0].numpy())


def test_paddle_save_and_checkpoint_directory(tmp_path):
    source = _tiny(seed=1)
    os.makedirs(tmp_path / 'best_model')
    paddle.save(source.state_dict(), str(tmp_path / 'best_model' / 'model.pdparams'))
    target = _tiny(seed=2)
    load_entire_model(target, str(tmp_path / 'best_model'))
    np.testing.assert_array_equal(source.cls.weight.numpy(), target.cls.weight.numpy())


def test_checkpoint_without_conv_alias_fills_both_names(tmp_path):
    source = _tiny(seed=1)
    path = _write_paddleseg_pickle(source, tmp_path / 'm.pdparams', drop=('conv.weight', 'conv.bias'))
    target = _tiny(seed=2)
    report = load_entire_model(target, path)
    assert not report['missing']
    np.testing.assert_array_equal(target.conv.weight.numpy(), source.cls.weight.numpy())


def test_wrong_num_classes_is_a_clear_user_error(tmp_path):
    path = _write_paddleseg_pickle(_tiny(num_classes=2), tmp_path / 'm.pdparams')
    with pytest.raises(UserError) as info:
        load_entire_model(_tiny(num_classes=3), path)
    message = str(info.value)
    assert 'cls.weight' in message and '[2, 4, 3, 3]' in message and '[3, 4, 3, 3]' in message
    assert 'num_classes' in message and 'm.pdparams' in message


def test_missing_parameters_are_a_user_error(tmp_path):
    path = _write_paddleseg_pickle(_tiny(), tmp_path / 'm.pdparams')
    with pytest.raises(UserError, match='missing'):
        load_entire_model(AttentionUNet(num_classes=2, base_channels=4), path)


def test_pretrained_is_lenient_and_reports(tmp_path):
    source = _tiny(num_classes=2, seed=1)
    path = _write_paddleseg_pickle(source, tmp_path / 'm.pdparams', drop=('encode.double_conv.0._conv.bias',))
    target = UNet(num_classes=3, base_channels=4, pretrained=path)
    np.testing.assert_array_equal(target.encode.double_conv[1]._conv.weight.numpy(),
                                  source.encode.double_conv[1]._conv.weight.numpy())
    report = load_pretrained_model(target, path)
    assert report['missing'] == ['encode.double_conv.0._conv.bias']
    assert [m[0] for m in report['mismatched']] == ['cls.weight', 'cls.bias', 'conv.weight', 'conv.bias']
    assert len(report['loadable']) == 112 - 5


@pytest.mark.parametrize('loader', [load_entire_model, load_pretrained_model])
def test_nonexistent_and_invalid_files(tmp_path, loader):
    with pytest.raises(UserError, match='not found'):
        loader(_tiny(), str(tmp_path / 'nope.pdparams'))
    bad = tmp_path / 'bad.pdparams'
    bad.write_text('not a pickle')
    with pytest.raises(UserError, match='bad.pdparams is not a valid'):
        loader(_tiny(), str(bad))
    listed = tmp_path / 'list.pdparams'
    with open(listed, 'wb') as f:
        pickle.dump([1, 2], f, protocol=4)
    with pytest.raises(UserError, match='list.pdparams is not a valid'):
        loader(_tiny(), str(listed))


def test_load_entire_model_without_path_only_warns():
    assert load_entire_model(_tiny(), None) is None


def test_url_download_to_cache_and_archive(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / 'cache'))
    source = _tiny(seed=1)
    path = _write_paddleseg_pickle(source, tmp_path / 'model.pdparams')
    with tarfile.open(tmp_path / 'unet.tar.gz', 'w:gz') as tf:
        tf.add(path, arcname='unet/model.pdparams')
    for url in ('file://' + path, 'file://' + str(tmp_path / 'unet.tar.gz')):
        target = _tiny(seed=2)
        load_pretrained_model(target, url)
        np.testing.assert_array_equal(source.cls.weight.numpy(), target.cls.weight.numpy())
    assert os.path.isfile(tmp_path / 'cache' / 'unet' / 'model.pdparams')
    with pytest.raises(UserError, match='download'):
        load_pretrained_model(_tiny(), 'file://' + str(tmp_path / 'absent.pdparams'))


def _write_state(path, state):
    with open(path, 'wb') as f:
        pickle.dump(state, f, protocol=4)
    return str(path)


def test_cache_dir_defaults_to_home_cache(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert cache_dir() == str(tmp_path / 'home' / '.cache' / 'paddleseg_lite')


@pytest.mark.parametrize('scheme', ['http', 'https', 'ftp'])
def test_url_is_downloaded_once_into_the_cache(scheme, tmp_path, monkeypatch, log_lines):
    source = _tiny(seed=1)
    weights = _write_paddleseg_pickle(source, tmp_path / 'src.pdparams')
    calls = []

    def fake_urlretrieve(url, filename):
        calls.append(url)
        with open(weights, 'rb') as src, open(filename, 'wb') as dst:
            dst.write(src.read())
    monkeypatch.setattr(urllib.request, 'urlretrieve', fake_urlretrieve)
    url = scheme + '://example.com/models/unet_w.v2.pdparams'
    for _ in range(2):
        target = _tiny(seed=2)
        load_pretrained_model(target, url)
        np.testing.assert_array_equal(source.cls.weight.numpy(), target.cls.weight.numpy())
    local = str(tmp_path / 'cache' / 'unet_w' / 'unet_w.v2.pdparams')
    assert calls == [url] and os.path.isfile(local)
    assert log_lines.count('Downloading {} to {}'.format(url, local)) == 1
    assert not os.path.exists(local + '.part')


def test_url_without_file_name_is_cached_as_weights(tmp_path, monkeypatch):
    source = _tiny(seed=1)
    weights = _write_paddleseg_pickle(source, tmp_path / 'src.pdparams')
    monkeypatch.setattr(urllib.request, 'urlretrieve',
                        lambda url, filename: open(filename, 'wb').write(open(weights, 'rb').read()))
    load_pretrained_model(_tiny(), 'https://example.com')
    assert os.path.isfile(tmp_path / 'cache' / 'weights' / 'weights.pdparams')


def test_failed_download_names_the_url(tmp_path):
    url = 'file://' + str(tmp_path / 'absent.pdparams')
    with pytest.raises(UserError) as info:
        load_pretrained_model(_tiny(), url)
    message = str(info.value)
    assert message.startswith('Could not download {} ('.format(url)) and 'No such file' in message
    assert message.endswith('); download it yourself and give the local path instead')


def _zip(path, members):
    with zipfile.ZipFile(path, 'w') as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return 'file://' + str(path)


def _tar(path, members, tmp_path):
    with tarfile.open(path, 'w') as tf:
        for name, data in members.items():
            staged = tmp_path / 'staged'
            staged.write_bytes(data)
            tf.add(str(staged), arcname=name)
    return 'file://' + str(path)


@pytest.mark.parametrize('pack', ['zip', 'tar'])
def test_archive_member_choice(pack, tmp_path):
    """model.pdparams is preferred; else the only .pdparams; other files are ignored."""
    good = open(_write_paddleseg_pickle(_tiny(seed=1), tmp_path / 'g.pdparams'), 'rb').read()
    other = open(_write_paddleseg_pickle(_tiny(seed=3), tmp_path / 'o.pdparams'), 'rb').read()
    cases = [('a', {'x/other.pdparams': other, 'x/model.pdparams': good}),
             ('b', {'README.txt': b'hello', 'x/best.pdparams': good})]
    for name, members in cases:
        path = tmp_path / ('%s.%s' % (name, pack))
        url = _zip(path, members) if pack == 'zip' else _tar(path, members, tmp_path)
        target = _tiny(seed=2)
        load_pretrained_model(target, url)
        np.testing.assert_array_equal(target.cls.weight.numpy(), _tiny(seed=1).cls.weight.numpy())
    path = tmp_path / ('c.%s' % pack)
    members = {'README.txt': b'hello', 'x/one.pdparams': good, 'x/two.pdparams': other}
    url = _zip(path, members) if pack == 'zip' else _tar(path, members, tmp_path)
    with pytest.raises(UserError) as info:
        load_pretrained_model(_tiny(), url)
    assert str(info.value) == ("{} holds 2 .pdparams files and none is model.pdparams; extract it yourself and "
                               "give the file's path".format(tmp_path / 'cache' / 'c' / ('c.' + pack)))


def test_unreadable_archive_names_file_and_url(tmp_path):
    (tmp_path / 'broken.zip').write_bytes(b'not a zip')
    url = 'file://' + str(tmp_path / 'broken.zip')
    with pytest.raises(UserError) as info:
        load_pretrained_model(_tiny(), url)
    local = str(tmp_path / 'cache' / 'broken' / 'broken.zip')
    assert str(info.value).startswith('{} (from {}) is not a readable archive (File is not a zip file'.format(
        local, url))
    assert str(info.value).endswith('); delete it and retry')


def test_directory_without_weights_names_the_expected_file(tmp_path):
    os.makedirs(tmp_path / 'run')
    (tmp_path / 'model.pdparams').write_bytes(b'decoy in the working directory')
    with pytest.raises(UserError) as info:
        load_entire_model(_tiny(), str(tmp_path / 'run'))
    assert str(info.value) == 'Model weights not found: {}; check model.pretrained / --model_path'.format(
        tmp_path / 'run' / 'model.pdparams')


def test_invalid_file_messages(tmp_path):
    bad = tmp_path / 'bad.pdparams'
    bad.write_text('not a pickle')
    with pytest.raises(UserError) as info:
        load_entire_model(_tiny(), str(bad))
    assert str(info.value).startswith('{} is not a valid .pdparams weights file ('.format(bad))
    assert str(info.value).endswith('(ValueError: `paddle.load` can not parse the file:{}.)'.format(bad))
    listed = _write_state(tmp_path / 'list.pdparams', [1, 2])
    with pytest.raises(UserError) as info:
        load_entire_model(_tiny(), listed)
    assert str(info.value) == '{} is not a valid .pdparams weights file (holds a list, not a dict of ' \
                              'parameters)'.format(listed)
    empty = _write_state(tmp_path / 'empty.pdparams', {'epoch': 3, NAME_TABLE_KEY: {}})
    with pytest.raises(UserError) as info:
        load_entire_model(_tiny(), empty)
    assert str(info.value) == '{} is not a valid .pdparams weights file (it holds no parameter arrays)'.format(empty)


def test_extra_entries_log_lines_and_no_paddle_warnings(tmp_path, log_lines):
    """Non-array entries are dropped, extra arrays reported; Paddle's per-key warnings are silenced."""
    source = _tiny(seed=1)
    state = {k: v.numpy() for k, v in source.state_dict().items() if k != 'encode.double_conv.0._conv.bias'}
    state['extra.weight'] = np.ones([2], 'float32')
    state.update({NAME_TABLE_KEY: {k: 'param_%d' % i for i, k in enumerate(state)}, 'epoch': 7})
    path = _write_state(tmp_path / 'm.pdparams', state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        report = load_pretrained_model(UNet(num_classes=3, base_channels=4), path)
    assert not [w for w in caught if 'Skip loading' in str(w.message)]
    assert sorted(report) == ['loadable', 'mismatched', 'missing', 'unexpected']
    assert report['unexpected'] == ['extra.weight']
    assert log_lines == [
        '1 parameters of UNet are not in {} and keep their initial values: '
        'encode.double_conv.0._conv.bias'.format(path),
        "[SKIP] Shape of pretrained params cls.weight doesn't match.(Pretrained: [2, 4, 3, 3], Actual: [3, 4, 3, 3])",
        "[SKIP] Shape of pretrained params cls.bias doesn't match.(Pretrained: [2], Actual: [3])",
        "[SKIP] Shape of pretrained params conv.weight doesn't match.(Pretrained: [2, 4, 3, 3], Actual: [3, 4, 3, 3])",
        "[SKIP] Shape of pretrained params conv.bias doesn't match.(Pretrained: [2], Actual: [3])",
        'There are 107/112 variables loaded into UNet.',
        '1 keys of {} are not in UNet and were ignored: extra.weight'.format(path)]


def test_long_key_lists_are_cut_after_20(tmp_path, log_lines):
    path = _write_state(tmp_path / 'm.pdparams', {'cls.weight': _tiny().cls.weight.numpy()})
    load_pretrained_model(_tiny(), path)
    missing = [k for k in _tiny().state_dict() if k not in ('cls.weight', 'conv.weight')]
    assert log_lines[0] == '110 parameters of UNet are not in {} and keep their initial values: {} ... and 90 ' \
                           'more'.format(path, ', '.join(missing[:20]))
    assert log_lines[1] == 'There are 2/112 variables loaded into UNet.'
    state = {k: v.numpy() for k, v in _tiny().state_dict().items()}
    state.update({'extra%d' % i: np.zeros([1], 'float32') for i in range(20)})
    load_pretrained_model(_tiny(), _write_state(tmp_path / 'n.pdparams', state))
    assert log_lines[-1].endswith(': ' + ', '.join('extra%d' % i for i in range(20)))


def test_load_entire_model_messages(tmp_path, log_lines):
    assert load_entire_model(_tiny(), '') is None
    assert log_lines == ['No model weights given: UNet keeps its random initialisation.']
    path = _write_paddleseg_pickle(_tiny(num_classes=2), tmp_path / 'm.pdparams')
    with pytest.raises(UserError) as info:
        load_entire_model(_tiny(num_classes=3), path)
    assert str(info.value) == (
        '{}: parameter cls.weight has shape [2, 4, 3, 3] in the checkpoint but [3, 4, 3, 3] in UNet (4 '
        'mismatched); model.num_classes / base_channels / in_channels in the config differ from the '
        'checkpoint'.format(path))
    with pytest.raises(UserError) as info:
        load_entire_model(AttentionUNet(num_classes=2, base_channels=4), path)
    assert str(info.value) == (
        '{}: 72 of 182 parameters of AttentionUNet are missing (first: decode.up_sample_list.0.gate.gate_proj.'
        '_conv.weight); the checkpoint was made by another model type or config: use the config it was trained '
        'with'.format(path))
    log_lines.clear()
    state = {k: v.numpy() for k, v in _tiny().state_dict().items()}
    extra = _write_state(tmp_path / 'extra.pdparams', dict(state, **{'extra.weight': np.zeros([1], 'float32')}))
    load_entire_model(_tiny(), extra)
    assert log_lines == ['There are 112/112 variables loaded into UNet.',
                         '1 keys of {} are not in UNet and were ignored: extra.weight'.format(extra)]
