"""An ensemble of models of one config (`--model_path a.pdparams b.pdparams c.pdparams`): the mean of the
members' class probabilities, decided as a single model's (argmax, or the decision threshold).

Design: probabilities are averaged, never logits (the mean of logits is not the mean of what each member
believes). The rest of the package turns logits into probabilities and class ids in one place
(`models.outputs`), so the ensemble hands back logits whose probabilities are the mean
(`outputs.mean_prob_logits`: log p, or log p1 - log p0 for a 1-channel sigmoid config): softmax(log p) = p to
float32 rounding (~1e-7), and since log is increasing, argmax and `p >= threshold` decide as on the mean
itself (a pixel within ~1e-7 of a tie aside), and the saved probability and the prediction agree. So val, predict, the exported graph and deploy infer need no ensemble branch of their own.

Where the mean is taken:
- `core.inference_options.InferenceOptions.logits` runs each member's own test-time augmentation and
  sliding windows (logits averaged over flips, as for one model), maps it back to the image's size, then
  `Ensemble.combine` averages the members' probabilities: per image, after each member's TTA.
- `Ensemble.forward` (a plain call, and what `tools/export.py` traces into ONE graph) averages the members'
  probabilities on the input as it is; the exported graph then applies output_op as for one model.
Members are dygraph models (sublayers, so the ensemble exports as one program) or inference-engine models
(`deploy.PredictorModel`, one per member, for val / predict `--engine onnx|inference`).
"""
import os

import paddle

from paddleseg_lite.models.outputs import mean_prob_logits
from paddleseg_lite.utils.errors import UserError


def weights_list(model_path):
    """`--model_path` / `init_model(checkpoint=)` as a list: one path (str / PathLike), None ([]), or several."""
    if model_path is None:
        return []
    if isinstance(model_path, (str, os.PathLike)):
        return [os.fspath(model_path)]
    paths = [os.fspath(p) for p in model_path]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    if duplicates:
        raise UserError("--model_path {}: given more than once; an ensemble's members are different weights files "
                        "(the same one twice would only weigh it double)".format(duplicates[0]))
    return paths


class Ensemble(paddle.nn.Layer):
    """The mean of the class probabilities of `members`, returned as logits (`outputs.mean_prob_logits`).

    Args:
        members (list): Two or more models of one config, each returning a list of N×C×H×W logits (C the same).
        names (list[str], optional): Where each member's weights came from (for deploy.yaml and logs).
    """

    def __init__(self, members, names=None):
        super().__init__()
        if len(members) < 2:
            raise ValueError("an Ensemble needs at least 2 members, got {}".format(len(members)))
        self.members = list(members)
        self.names = list(names or [])
        for i, member in enumerate(self.members):
            if isinstance(member, paddle.nn.Layer):
                self.add_sublayer("member{}".format(i), member)

    def combine(self, member_logits):
        """Logits whose probabilities are the mean of the probabilities of `member_logits` (N×C×H×W each)."""
        return mean_prob_logits(member_logits)

    def forward(self, x):
        return [self.combine([member(x)[0] for member in self.members])]

    def describe(self):
        """What deploy.yaml records about the ensemble."""
        return {"members": len(self.members), "combine": "mean of the members' class probabilities",
                **({"weights": self.names} if self.names else {})}
