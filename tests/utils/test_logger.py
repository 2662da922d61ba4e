"""utils/logger.py: PaddleSeg's line format on the stdout of the moment, mirrored into a file."""
import contextlib
import io
import logging
import re

from paddleseg_lite.utils import logger


def test_lines_go_to_the_current_stdout_in_paddleseg_format(tmp_path):
    first, second = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(first):
        logger.info("one")
    first.close()  # a closed earlier stream must not be written to again
    with contextlib.redirect_stdout(second):
        logger.warning("two")
    assert re.fullmatch(r"\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\] WARNING: two\n", second.getvalue())


def test_add_file_mirrors_lines_once(tmp_path, capsys):
    path = tmp_path / "logs" / "train.log"
    logger.add_file(str(path))
    logger.add_file(str(path))
    logger.info("mirrored")
    for handler in [h for h in logging.getLogger("paddleseg_lite").handlers if isinstance(h, logging.FileHandler)]:
        logging.getLogger("paddleseg_lite").removeHandler(handler)
        handler.close()
    lines = [line for line in path.read_text().splitlines() if line.endswith("mirrored")]
    assert len(lines) == 1 and re.fullmatch(r"\[.{19}\] INFO: mirrored", lines[0])
    assert capsys.readouterr().out.endswith("INFO: mirrored\n")
