"""A script written against PaddleSeg's Python API (`paddleseg.core.train/evaluate/predict`), with
PaddleSeg's positional arguments, runs unchanged on paddleseg_lite."""
import cv2
import numpy as np
import paddle
from PIL import Image

from paddleseg_lite.core import evaluate, predict, train
from paddleseg_lite.datasets import SyntheticVessels
from paddleseg_lite.models import UNet
from paddleseg_lite.models.losses import DiceLoss
from paddleseg_lite.transforms import Compose, Normalize


def test_paddleseg_script_trains_evaluates_and_predicts(tmp_path):
    paddle.seed(0)
    model = UNet(num_classes=2, base_channels=4)
    train_ds = SyntheticVessels(mode="train", transforms=[Normalize()], num_samples=4, image_size=32)
    val_ds = SyntheticVessels(mode="val", transforms=[Normalize()], num_samples=2, image_size=32)
    scheduler = paddle.optimizer.lr.PolynomialDecay(0.01, decay_steps=4, end_lr=0, power=0.9)
    optimizer = paddle.optimizer.Momentum(scheduler, parameters=model.parameters(), momentum=0.9)
    losses = {"types": [DiceLoss()], "coef": [1]}
    save_dir = str(tmp_path / "out")
    # PaddleSeg: train(model, train_dataset, val_dataset, optimizer, save_dir, iters, batch_size,
    #                  early_stop_intervals, resume_model, save_interval, log_iters, num_workers, use_vdl,
    #                  use_ema, losses)
    train(model, train_ds, val_ds, optimizer, save_dir, 4, 2, None, None, 2, 1, 0, False, False, losses)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["best_model", "iter_2", "iter_4"]

    miou, acc, class_iou, class_precision, kappa = evaluate(model, val_ds)
    assert class_iou.shape == (2,) and class_precision.shape == (2,)
    assert 0 <= miou <= 1 and 0 <= acc <= 1 and -1 <= kappa <= 1
    assert np.isclose(miou, class_iou.mean())

    image = tmp_path / "images" / "eye.png"
    image.parent.mkdir()
    cv2.imwrite(str(image), np.full((24, 40, 3), 90, np.uint8))
    fresh = UNet(num_classes=2, base_channels=4)
    # PaddleSeg: predict(model, model_path, transforms, image_list, image_dir, save_dir)
    predict(fresh, save_dir + "/iter_4/model.pdparams", Compose([Normalize()]), [str(image)],
            str(image.parent), str(tmp_path / "result"))
    pred = np.asarray(Image.open(tmp_path / "result" / "pseudo_color_prediction" / "eye.png"))
    assert pred.shape == (24, 40) and set(np.unique(pred)) <= {0, 1}
    assert (tmp_path / "result" / "added_prediction" / "eye.png").is_file()
    for name, value in model.state_dict().items():  # the weights predict loaded are the trained ones
        np.testing.assert_array_equal(fresh.state_dict()[name].numpy(), value.numpy())
