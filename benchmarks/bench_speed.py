"""Train-step and evaluation speed: paddleseg_lite vs PaddleSeg 2.8 vs PyTorch, on one U-Net config.

Every variant runs in its own subprocess (so thread settings and peak RSS are its own), and the
rounds interleave the variants (A B C A B C ...) so machine noise hits them alike. Needs a side
venv with paddleseg==2.8.0 and torch (see benchmarks/README.md); missing ones are skipped.

    path/to/venv-bench/bin/python benchmarks/bench_speed.py --rounds 2
"""
import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DRIVE = os.path.join(ROOT, "..", "shared", "data", "DRIVE-training")
EVAL_HW = (584, 565)
TRAIN_VARIANTS = ("paddleseg", "lite", "lite_fp32", "lite_dygraph", "torch")
# paddleseg_lite's training step as tools/train.py makes it: the default (no flag), and the opt-outs.
LITE_TRAIN_KNOBS = {"lite": {}, "lite_fp32": {"precision": "fp32"}, "lite_dygraph": {"to_static_training": False}}
EVAL_VARIANTS = ("paddleseg", "lite_fp32", "lite_onnx", "lite_bf16", "torch", "torch_bf16")


def drive_image():
    """A DRIVE training image as 3×584×565 float32 in [-1, 1], or a synthetic one of that size."""
    files = sorted(glob.glob(os.path.join(DRIVE, "images", "*.tif")))
    if files:
        import cv2
        img = cv2.imread(files[0], cv2.IMREAD_COLOR)[:, :, ::-1]
    else:
        img = np.random.RandomState(0).randint(0, 256, EVAL_HW + (3,))
    return (img.astype(np.float32) / 127.5 - 1).transpose(2, 0, 1).copy(), bool(files)


def train_batch(batch_size, crop):
    """`batch_size` random crop×crop patches of the image and random 0/1 labels (seeded)."""
    img, _ = drive_image()
    rng = np.random.RandomState(0)
    ys = rng.randint(0, EVAL_HW[0] - crop, batch_size)
    xs = rng.randint(0, EVAL_HW[1] - crop, batch_size)
    x = np.stack([img[:, y:y + crop, x0:x0 + crop] for y, x0 in zip(ys, xs)])
    return x, rng.randint(0, 2, (batch_size, crop, crop)).astype(np.int64)


def conv_flops(channels, h, w, num_classes=2):
    """Forward FLOPs (2 per multiply-add) of the U-Net's 3x3 convolutions for one h×w image."""
    widths = [channels, 2 * channels, 4 * channels, 8 * channels, 8 * channels]
    sizes = [(h, w)]
    for _ in range(4):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    convs = [(0, 3, widths[0]), (0, widths[0], widths[0])]  # (level, in, out)
    for level in range(1, 5):
        convs += [(level, widths[level - 1], widths[level]), (level, widths[level], widths[level])]
    dec_in, dec_out = widths[3::-1], [4 * channels, 2 * channels, channels, channels]
    for level, a, b in zip(range(3, -1, -1), dec_in, dec_out):
        convs += [(level, 2 * a, b), (level, b, b)]
    convs.append((0, channels, num_classes))
    return sum(2 * 9 * a * b * sizes[lv][0] * sizes[lv][1] for lv, a, b in convs)


# ----------------------------------------------------------------------------- workers (subprocess)

def _paddle_train_step(model, loss_fn, x, y):
    import paddle
    opt = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters(), weight_decay=4e-5)
    xt, yt = paddle.to_tensor(x), paddle.to_tensor(y)

    def step():
        loss = loss_fn(model(xt)[0], yt)
        loss.backward()
        opt.step()
        opt.clear_grad()
        return float(loss)
    return step


def _torch_unet(channels):
    import torch
    from torch import nn

    def block(a, b):
        return [nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

    class UNet(nn.Module):
        def __init__(self, c):
            super().__init__()
            w = [c, 2 * c, 4 * c, 8 * c, 8 * c]
            self.inc = nn.Sequential(*block(3, c), *block(c, c))
            self.down = nn.ModuleList(nn.Sequential(nn.MaxPool2d(2), *block(w[i], w[i + 1]), *block(w[i + 1], w[i + 1]))
                                      for i in range(4))
            ins, outs = [8 * c, 4 * c, 2 * c, c], [4 * c, 2 * c, c, c]
            self.up = nn.ModuleList(nn.Sequential(*block(2 * a, b), *block(b, b)) for a, b in zip(ins, outs))
            self.cls = nn.Conv2d(c, 2, 3, padding=1)

        def forward(self, x):
            skips = []
            x = self.inc(x)
            for down in self.down:
                skips.append(x)
                x = down(x)
            for up in self.up:
                skip = skips.pop()
                x = nn.functional.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
                x = up(torch.cat([x, skip], 1))
            return [self.cls(x)]
    return UNet(channels)


def _torch_dice(logits, labels):
    import torch
    probs = torch.softmax(logits, 1)
    onehot = torch.nn.functional.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (probs * onehot).flatten(2).sum(2)
    union = (probs + onehot).flatten(2).sum(2)
    return (1 - (2 * inter + 1) / (union + 1)).mean()


def make_train_step(variant, channels, x, y):
    """A zero-argument callable doing one optimisation step for `variant`."""
    if variant == "torch":
        import torch
        model = _torch_unet(channels)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def step():
            loss = _torch_dice(model(xt)[0], yt)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return float(loss)
        return step
    import paddle
    paddle.seed(0)
    if variant == "paddleseg":
        from paddleseg.models import UNet
        from paddleseg.models.losses import DiceLoss
        return _paddle_train_step(UNet(num_classes=2), DiceLoss(), x, y)
    return _lite_train_step(LITE_TRAIN_KNOBS[variant], channels, x, y)


def _lite_train_step(knobs, channels, x, y):
    """The step `core.steps.make_step` builds for the default run knobs with `knobs` changed."""
    import paddle
    sys.path.insert(0, ROOT)
    from paddleseg_lite.core.steps import make_step
    from paddleseg_lite.cvlibs.run_settings import TrainSettings
    from paddleseg_lite.models import UNet
    from paddleseg_lite.models.losses import DiceLoss, LossSet
    from paddleseg_lite.utils.cpu import setup_cpu_threads
    setup_cpu_threads()
    model = UNet(num_classes=2, base_channels=channels)
    model.train()
    opt = paddle.optimizer.Momentum(0.01, momentum=0.9, parameters=model.parameters(), weight_decay=4e-5)
    settings = TrainSettings(iters=1000, batch_size=len(x), **knobs)
    step = make_step(settings, model, model, LossSet([DiceLoss()], [1.0]), opt, 1, lambda: (x.shape, y.shape))
    batch = {"img": paddle.to_tensor(x), "label": paddle.to_tensor(y)}
    return lambda: step(batch, 1)[0]


def make_eval(variant, channels, workdir):
    """A callable mapping a 1×3×H×W array to class ids, for `variant`."""
    if variant.startswith("torch"):
        import torch
        model = _torch_unet(channels).eval()

        def run(x):
            with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=variant.endswith("bf16")):
                return model(torch.from_numpy(x))[0].float().argmax(1).numpy()
        return run
    import paddle
    paddle.seed(0)
    if variant == "paddleseg":
        from paddleseg.models import UNet
        model = UNet(num_classes=2)
        model.eval()

        def run(x):
            with paddle.no_grad():
                return model(paddle.to_tensor(x))[0].argmax(1).numpy()
        return run
    sys.path.insert(0, ROOT)
    from paddleseg_lite.deploy import OnnxPredictor, Predictor, export_model, export_onnx_model
    from paddleseg_lite.models import UNet
    model = UNet(num_classes=2, base_channels=channels)
    if variant == "lite_onnx":  # ONNX Runtime fp32: what --engine auto runs on CPU in fp32
        export_onnx_model(model, workdir, output_op="argmax")
        return OnnxPredictor(workdir)
    export_model(model, workdir, output_op="argmax")
    return Predictor(workdir, precision=variant.split("_")[1])


def worker(args):
    """Time `args.steps` calls of one variant; print one JSON line."""
    if args.task == "train":
        x, y = train_batch(args.batch_size, args.crop)
        call = make_train_step(args.variant, args.channels, x, y)
        fn = call
    else:
        image, _ = drive_image()
        model = make_eval(args.variant, args.channels, os.path.join(args.workdir, args.variant))
        fn = lambda: model(image[None])  # noqa: E731
    fn()  # warm-up (oneDNN primitive creation, allocator)
    times = []
    for _ in range(args.steps):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps({"times": times, "peak_rss_mb": rss}))


# ----------------------------------------------------------------------------- driver

def run_variant(args, task, variant):
    cmd = [args.python, os.path.abspath(__file__), "--worker", "--task", task, "--variant", variant,
           "--steps", str(args.steps), "--channels", str(args.channels), "--batch_size", str(args.batch_size),
           "--crop", str(args.crop), "--workdir", args.workdir]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        print("  {} {}: failed ({})".format(task, variant, tail[0][:150]), flush=True)
        return None
    result = json.loads(lines[0][7:])
    print("  {} {}: {}  peak RSS {:.0f} MB".format(task, variant, " ".join("%.3f" % t for t in result["times"]),
                                                     result["peak_rss_mb"]), flush=True)
    return result


def gemm_peak_gflops():
    """Attainable fp32 GFLOPS of this machine: a 2048³ sgemm with numpy (all threads), best of 5."""
    a = np.random.rand(2048, 2048).astype(np.float32)
    best = min(_timed(lambda: a @ a) for _ in range(5))
    return 2 * 2048 ** 3 / best / 1e9


def _timed(fn):
    tic = time.perf_counter()
    fn()
    return time.perf_counter() - tic


def summarize(task, results, flops, baseline="paddleseg"):
    print("\n{} ({})".format(task, "s/step" if task == "train" else "s/image"))
    print("  {:<11} {:>8} {:>8} {:>10} {:>9} {:>8}".format("variant", "median", "min", "vs paddleseg", "GFLOPS",
                                                             "RSS MB"))
    base = np.median(results[baseline]["times"]) if baseline in results else None
    for variant, res in results.items():
        if not res:
            continue
        med = float(np.median(res["times"]))
        ratio = "{:.2f}x".format(base / med) if base else "-"
        print("  {:<11} {:>8.3f} {:>8.3f} {:>10} {:>9.1f} {:>8.0f}".format(
            variant, med, min(res["times"]), ratio, flops / med / 1e9, res["peak_rss_mb"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--task", choices=["train", "eval"], default="train")
    p.add_argument("--variant", default="lite")
    p.add_argument("--tasks", nargs="+", default=["train", "eval"], help="what to benchmark")
    p.add_argument("--train_variants", nargs="+", default=list(TRAIN_VARIANTS))
    p.add_argument("--eval_variants", nargs="+", default=list(EVAL_VARIANTS))
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds per variant")
    p.add_argument("--steps", type=int, default=3, help="timed calls per round (after one warm-up)")
    p.add_argument("--channels", type=int, default=64, help="U-Net base channels (the seed config: 64)")
    p.add_argument("--batch_size", type=int, default=4)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--python", default=sys.executable, help="interpreter with paddle, paddleseg, torch")
    p.add_argument("--workdir", default="/tmp/paddleseg_lite_bench")
    args = p.parse_args()
    if args.worker:
        return worker(args)
    _, real = drive_image()
    print("U-Net base {} | train bs {} {}x{} | eval 1x3x{}x{} ({}) | {} CPUs".format(
        args.channels, args.batch_size, args.crop, args.crop, *EVAL_HW,
        "DRIVE image" if real else "synthetic image", len(os.sched_getaffinity(0))))
    peak = gemm_peak_gflops()
    print("attainable fp32 peak (numpy sgemm 2048^3): {:.0f} GFLOPS".format(peak))
    flops = {"train": 3 * args.batch_size * conv_flops(args.channels, args.crop, args.crop),
             "eval": conv_flops(args.channels, *EVAL_HW)}
    variants = {"train": args.train_variants, "eval": args.eval_variants}
    if args.channels != 64:  # PaddleSeg's UNet has a fixed width of 64
        print("--channels {}: PaddleSeg's UNet is fixed at 64 channels; skipping it".format(args.channels))
        variants = {k: [v for v in vs if v != "paddleseg"] for k, vs in variants.items()}
    for task in args.tasks:
        results = {v: {"times": [], "peak_rss_mb": 0.0} for v in variants[task]}
        for r in range(args.rounds):
            print("{} round {}".format(task, r + 1), flush=True)
            for v in variants[task]:
                res = run_variant(args, task, v)
                if res:
                    results[v]["times"] += res["times"]
                    results[v]["peak_rss_mb"] = max(results[v]["peak_rss_mb"], res["peak_rss_mb"])
        summarize(task, {v: r for v, r in results.items() if r["times"]}, flops[task])
    print("\nGFLOPS = conv FLOPs (train: 3x forward) / median time; compare with the sgemm peak above.")


if __name__ == "__main__":
    main()
