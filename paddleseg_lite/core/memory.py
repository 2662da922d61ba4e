"""Will a whole-image forward pass fit in memory? If not, the sliding window that does.

`core.infer` asks before every whole-image forward (val, predict and the evaluation inside training
all run through it) and before every sliding-window one:

- `whole_image_window` returns None when the whole image fits, else a `(crop_size, stride)` that does,
  announced in one log line (once per image size and window); `infer` then runs sliding windows.
- `check_window` refuses (UserError) an explicit `--crop_size` whose window would not fit, naming
  the `--crop_size` / `--stride` that would.
- `window_batch` says how many windows one forward pass may take (up to WINDOW_BATCH).

The need is measured, not modelled: the first time a model meets an image larger than the probe, it
runs once on a PROBE x PROBE image of zeros and Paddle's allocator statistics give the peak bytes
allocated during that forward pass. Activations of a fully convolutional network scale with the
pixel count (UNet, AttentionUNet, ResUNet and UNetPlusPlus measure the same bytes per pixel from
32x32 to 512x512), so bytes per pixel x pixels is the estimate for any registered or custom model
and any base_channels, at the cost of one tiny forward pass per model. UNet at base_channels 4 needs
~386 bytes per pixel (3.2 GiB for 3000x3000), 16x that at 64. A `deploy.PredictorModel` is measured
on its `source_model`; a model whose allocations Paddle does not count (a growth of 0) is never switched.

What is available: the environment variable AVAILABLE_ENV (bytes, or with a K/M/G/T suffix) when
set (tests set it; so can a user who wants to leave memory to other jobs); on a GPU the device's
total minus what Paddle has allocated; on the CPU /proc/meminfo's MemAvailable, lowered to the
memory cgroup's limit minus its usage (less inactive page cache) when a limit is set, with
os.sysconf as the fallback. Where none of these exists (macOS, Windows) nothing is switched.
"""
import math
import os
import re
import weakref

import paddle

from paddleseg_lite.utils import logger
from paddleseg_lite.utils.errors import UserError

AVAILABLE_ENV = "PADDLESEG_LITE_AVAILABLE_MEMORY"
PROBE = 32           # probe image side (pixels)
HEADROOM = 0.8       # use at most this share of the available memory (allocator slack, post-processing)
MAX_WINDOW = 1024    # largest automatic window side; windows are multiples of WINDOW_STEP
WINDOW_STEP = 32
WINDOW_BATCH = 4     # most sliding windows per forward pass (fewer, larger calls; memory stays bounded)
_NO_LIMIT = 2 ** 60  # cgroup "max" / v1's page-rounded 2^63

_cost_cache = weakref.WeakKeyDictionary()  # model -> {(in_channels, dtype, place): (bytes/pixel, out channels)}
_announced = set()


def _parse_bytes(text):
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", text, re.I)
    if not match:
        raise UserError("{}={!r}: expected a byte count such as 2G, 512M or 1000000".format(AVAILABLE_ENV, text))
    return int(float(match.group(1)) * 1024 ** " KMGT".index(match.group(2).upper() or " "))


def _read_numbers(path):
    """{key: int} of a `key value` file (/proc/meminfo, memory.stat), or of a one-number file as {'': n}."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return {}
    pairs = [line.replace(":", " ").split() for line in text.splitlines()]
    if len(pairs) == 1 and len(pairs[0]) == 1:
        return {"": int(pairs[0][0])} if pairs[0][0].isdigit() else {}
    return {p[0]: int(p[1]) for p in pairs if len(p) >= 2 and p[1].isdigit()}


def _cgroup_dirs():
    """This process's memory cgroup directories (v2 unified and v1 `memory`), and the roots."""
    found = {"/sys/fs/cgroup", "/sys/fs/cgroup/memory"}
    try:
        with open("/proc/self/cgroup") as f:
            for hierarchy, controllers, path in (line.rstrip("\n").split(":", 2) for line in f):
                if hierarchy == "0":
                    found.add(os.path.normpath("/sys/fs/cgroup" + path))
                elif "memory" in controllers.split(","):
                    found.add(os.path.normpath("/sys/fs/cgroup/memory" + path))
    except (OSError, ValueError):
        pass
    return found


def _cgroup_available():
    """The least limit - usage + inactive page cache over the memory cgroups that set a limit, or None."""
    room = []
    for directory in _cgroup_dirs():
        for limit, usage, inactive in (("memory.max", "memory.current", "inactive_file"),
                                       ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")):
            cap = _read_numbers(os.path.join(directory, limit)).get("")
            used = _read_numbers(os.path.join(directory, usage)).get("")
            if cap is not None and used is not None and cap < _NO_LIMIT:
                cache = _read_numbers(os.path.join(directory, "memory.stat")).get(inactive, 0)
                room.append(cap - used + cache)
    return min(room, default=None)


def _host_available():
    """MemAvailable (or the free pages), lowered to the cgroup's room; None when neither is known."""
    available = _read_numbers("/proc/meminfo").get("MemAvailable")
    if available is not None:
        available *= 1024
    elif "SC_AVPHYS_PAGES" in getattr(os, "sysconf_names", {}):
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return min((n for n in (available, _cgroup_available()) if n is not None), default=None)


def available_memory(place):
    """Bytes a forward pass on `place` (a paddle Place) may still allocate, or None when unknown."""
    if os.environ.get(AVAILABLE_ENV):
        return _parse_bytes(os.environ[AVAILABLE_ENV])
    if place.is_gpu_place():
        device = place.gpu_device_id()
        total = paddle.device.cuda.get_device_properties(device).total_memory
        return total - paddle.device.cuda.memory_allocated(device)
    return _host_available()


def _allocated(place, stat):
    """Paddle's allocator statistic `stat` ('current', 'peak' or 'reset_peak') of `place`, in bytes."""
    core = paddle.base.core
    if place.is_gpu_place():
        return getattr(core, "device_memory_stat_{}_value".format(stat))("Allocated", place.gpu_device_id())
    return getattr(core, "host_memory_stat_{}_value".format(stat))("Allocated", 0)


def forward_cost(model, im, forward):
    """(Peak bytes per input pixel of one image's forward pass, output channels) of `model`, measured
    on a probe of zeros the first time this model meets this kind of input.

    Args:
        model: the model; `forward(model, x)` returns N x C x H x W logits.
        im (Tensor): N x C_in x H x W; its channels, dtype and place pick the probe.
    """
    key = (im.shape[1], str(im.dtype), str(im.place))
    costs = _cost_cache.setdefault(model, {})
    if key not in costs:
        measured = getattr(model, "source_model", None) or model  # a deploy.PredictorModel's dygraph model
        side = max(PROBE, getattr(measured, "min_input_size", 0))
        probe = paddle.zeros([1, im.shape[1], side, side], dtype=im.dtype)
        before = _allocated(im.place, "current")
        _allocated(im.place, "reset_peak")
        channels = _probe_channels(measured, probe, forward)
        costs[key] = (max(_allocated(im.place, "peak") - before, 0) / side ** 2 if channels else 0, channels)
    return costs[key]


def _probe_channels(model, probe, forward):
    """The output channels of `forward(model, probe)` run in eval mode (no BatchNorm statistics
    change), or 0 when the model cannot run the probe: such a model is never switched, and a real
    fault shows on the image's own forward pass."""
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        return forward(model, probe).shape[1]
    except Exception:  # e.g. a model that needs a fixed input size
        return 0
    finally:
        if was_training:
            model.train()


def _size(n):
    """`n` bytes for a log line: 3.25 GiB, 98.3 MiB, 12.0 KiB."""
    exponent = min(max(int(math.log(max(n, 1), 1024)), 1), 3)
    return "{:.{}f} {}iB".format(n / 1024 ** exponent, 2 if exponent == 3 else 1, " KMG"[exponent])


def _available_text(available):
    return "~{} available{}".format(_size(available), " ({})".format(AVAILABLE_ENV) if os.environ.get(AVAILABLE_ENV)
                                    else "")


def _slide_buffers(shape, channels):
    """Bytes of the full-size float32 buffers of `core.infer.slide_inference`: sum, mean and
    cropped result (N x channels each), count, and the padded input."""
    n, in_channels, h, w = shape
    return n * h * w * (3 * channels + in_channels) * 4 + h * w * 4


def _slide_need(shape, cost, channels, window):
    """Bytes of sliding-window inference with `window` ((w, h)): one window's forward pass + buffers."""
    n, _, h, w = shape
    return n * min(window[0], w) * min(window[1], h) * cost + _slide_buffers(shape, channels)


def _largest_window(shape, cost, channels, budget, smallest):
    """The largest square window side (a multiple of WINDOW_STEP, at most MAX_WINDOW) that fits
    `budget`, or None below `smallest`."""
    spare = max(budget - _slide_buffers(shape, channels), 0)
    side = min(int(math.sqrt(spare / (shape[0] * cost))) // WINDOW_STEP * WINDOW_STEP, MAX_WINDOW)
    return side if side >= max(smallest, WINDOW_STEP) else None


def _flags(side):
    return "--is_slide --crop_size {0} {0} --stride {1} {1}".format(side, side * 3 // 4)


def _estimate(model, im, forward):
    """(bytes/pixel, output channels, available bytes), or None when there is nothing to decide: an
    image no larger than the probe, an unknown available memory, or an unmeasurable model."""
    if im.shape[2] * im.shape[3] <= PROBE * PROBE:
        return None
    available = available_memory(im.place)
    if available is None:
        return None
    cost, channels = forward_cost(model, im, forward)
    return (cost, channels, available) if cost > 0 else None


def whole_image_window(model, im, forward):
    """None when a whole-image forward pass of `im` fits in memory, else the `(crop_size, stride)`
    ((w, h) each) of sliding windows that fit: the largest square side up to MAX_WINDOW, stride 3/4
    of it (the overlap PaddleSeg's slide configs use).

    Raises:
        UserError: not even the smallest window fits.
    """
    estimate = _estimate(model, im, forward)
    if estimate is None:
        return None
    cost, channels, available = estimate
    n, _, h, w = im.shape
    need = n * h * w * cost
    if need <= HEADROOM * available:
        return None
    smallest = getattr(model, "min_input_size", 1)
    side = _largest_window(im.shape, cost, channels, HEADROOM * available, smallest)
    if side is None:
        raise UserError("Not enough memory for a {}x{} image: whole-image inference needs ~{} and even {}x{} "
                        "sliding windows ~{}, with {}; free memory or resize the image".format(
                            w, h, _size(need), WINDOW_STEP, WINDOW_STEP,
                            _size(_slide_need(im.shape, cost, channels, (WINDOW_STEP, WINDOW_STEP))),
                            _available_text(available)))
    crop, stride = (side, side), (side * 3 // 4, side * 3 // 4)
    if (h, w, side, cost) not in _announced:  # once per image size, window and model
        _announced.add((h, w, side, cost))
        logger.info("Whole-image inference of a {}x{} image needs ~{}, with {}: using sliding-window inference "
                    "({})".format(w, h, _size(need), _available_text(available), _flags(side)))
    return crop, stride


def check_window(model, im, crop_size, forward):
    """Raise a UserError naming --crop_size / --stride when sliding windows of `crop_size` ((w, h))
    over `im` would not fit in memory."""
    estimate = _estimate(model, im, forward)
    if estimate is None:
        return
    cost, channels, available = estimate
    need = _slide_need(im.shape, cost, channels, crop_size)
    if need <= HEADROOM * available:
        return
    side = _largest_window(im.shape, cost, channels, HEADROOM * available, getattr(model, "min_input_size", 1))
    fix = "use {}".format(_flags(side)) if side else "free memory or resize the image"
    raise UserError("test_config.crop_size (--crop_size) {}x{}: sliding-window inference of a {}x{} image needs "
                    "~{}, with {}; {}".format(crop_size[0], crop_size[1], im.shape[3], im.shape[2], _size(need),
                                              _available_text(available), fix))


def window_batch(model, im, crop_size, forward):
    """How many sliding windows of `crop_size` ((w, h)) over `im` one forward pass may take: the most,
    up to WINDOW_BATCH, whose pass fits in memory next to the slide buffers; at least 1."""
    estimate = _estimate(model, im, forward)
    if estimate is None:
        return WINDOW_BATCH
    cost, channels, available = estimate
    one = _slide_need(im.shape, cost, channels, crop_size) - _slide_buffers(im.shape, channels)
    spare = HEADROOM * available - _slide_buffers(im.shape, channels)
    return int(min(max(spare // max(one, 1), 1), WINDOW_BATCH))
