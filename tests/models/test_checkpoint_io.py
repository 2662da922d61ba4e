"""Weights loading: PaddleSeg-format pickles, strict vs lenient loading, clear user errors."""
import os
import pickle
import tarfile

import numpy as np
import paddle
import pytest

from paddleseg_lite.models import AttentionUNet, UNet, load_entire_model, load_pretrained_model
from paddleseg_lite.models.checkpoint_io import CACHE_ENV, NAME_TABLE_KEY
from paddleseg_lite.utils.errors import UserError


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
