import pandas as pd
import pytest

from openwfm.errors import ParameterError
from openwfm.io import atomic_write, write_table


def test_write_table_round_trips_csv_and_parquet(tmp_path):
    frame = pd.DataFrame({"queue": ["a", "b"], "offered": [3, 4]})
    for name in ("t.csv", "t.parquet"):
        path = write_table(frame, tmp_path / "sub" / name)
        read = pd.read_csv(path) if name.endswith(".csv") else pd.read_parquet(path)
        pd.testing.assert_frame_equal(read, frame)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def broken(temporary):
        temporary.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_unknown_suffix_names_the_option(tmp_path):
    with pytest.raises(ParameterError, match=r"--out: expected a file ending in \.csv"):
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.xlsx")
