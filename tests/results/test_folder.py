"""A results folder is claimed before any work: it must be writable, only one run writes it at
a time (a killed run's lock is gone with its process), an interrupted write's temporary files
are cleared, and a run that wrote nothing leaves no folder behind."""
import os
import signal
import subprocess
import sys

import pytest

from folders import assert_marker_last
from sagsim.cli import main
from sagsim.errors import DataFileError
from sagsim.results.folder import LOCK, claim

SCENARIO = '[scenario]\nname = "quick"\nface = "procedural-coarse"\nend_age = 42\nstep_years = 2\n'
HOLD = ("import sys, time\nfrom sagsim.results.folder import claim\n"
        "with claim(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)\n")


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sagsim.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def hold(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.parametrize("where", ["a file", "under a file", "/dev/null"])
def test_an_out_that_cannot_be_a_folder_is_one_line_before_any_solve(tmp_path, where, monkeypatch, capsys):
    import sagsim.jobs.age as age_job

    def no_solve(*args, **kwargs):
        raise AssertionError("the aging ran before --out was checked")

    monkeypatch.setattr(age_job, "run_aging", no_solve)  # where the job runs every aging
    (tmp_path / "s.toml").write_text(SCENARIO)
    (tmp_path / "file").write_text("x")
    out = {"a file": tmp_path / "file", "under a file": tmp_path / "file" / "sub", "/dev/null": "/dev/null"}[where]
    assert main(["age", str(tmp_path / "s.toml"), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(out) in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "s.toml"]


def test_a_second_run_on_a_folder_in_use_is_refused_naming_the_process(tmp_path):
    holder = hold(tmp_path / "out")
    try:
        with pytest.raises(DataFileError, match=rf"out is in use by process {holder.pid}; wait for it"):
            with claim(tmp_path / "out"):
                pass
        (tmp_path / "s.toml").write_text(SCENARIO)
        proc = cli("age", tmp_path / "s.toml", "--out", tmp_path / "out", "--quiet")
        assert proc.returncode == 2 and f"in use by process {holder.pid}" in proc.stderr
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [LOCK]  # the second run wrote nothing
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_run_leaves_no_lock_behind(tmp_path):
    holder = hold(tmp_path / "out")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with claim(tmp_path / "out") as out:  # the operating system let go of the dead run's lock
        assert (out / LOCK).read_text().strip() == str(os.getpid())
    assert not (tmp_path / "out" / LOCK).exists()


def test_temporaries_of_an_interrupted_write_are_cleared_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    (out / "render").mkdir(parents=True)
    left = [out / ".metrics.csv.1a2b3c4d.tmp.csv", out / "render" / ".index.html.0badf00d.tmp.html",
            out / ".summary.json.deadbeef.tmp.json"]
    kept = [out / "metrics.csv", out / ".keep", out / "notes.tmp.txt"]
    for p in left + kept:
        p.write_text("x")
    with claim(out):
        assert not any(p.exists() for p in left) and all(p.exists() for p in kept)


def test_a_run_that_fails_before_writing_leaves_no_folder(tmp_path):
    with pytest.raises(RuntimeError):
        with claim(tmp_path / "new" / "out"):
            raise RuntimeError("the solve failed")
    assert not (tmp_path / "new" / "out").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError):
        with claim(tmp_path / "kept"):
            raise RuntimeError("the solve failed")
    assert (tmp_path / "kept").is_dir()  # a folder the user made stays


def test_a_folder_is_complete_only_when_its_marker_is_written_last(tmp_path, monkeypatch, capsys):
    """summary.json is written last (after the pictures), and a new run removes an earlier
    run's before writing anything: a folder killed before its final write never looks
    finished, not even one a finished run had filled, and says so when opened."""
    import sagsim.jobs.age as age_job
    from sagsim.results import folder_kind
    from sagsim.results.aging import MARKER

    (tmp_path / "s.toml").write_text(SCENARIO)
    out = tmp_path / "out"
    written = []
    real = age_job.write_summary
    monkeypatch.setattr(age_job, "write_summary", lambda *a, **k: written.append(sorted(os.listdir(out))) or real(*a, **k))
    assert main(["age", str(tmp_path / "s.toml"), "--out", str(out), "--quiet"]) == 0
    assert folder_kind(out) == "aging" and MARKER not in written[0] and any(n.endswith(".png") for n in written[0])
    assert_marker_last(out, MARKER)

    def killed(*args, **kwargs):  # the process dies just before its last write
        raise KeyboardInterrupt
    monkeypatch.setattr(age_job, "write_summary", killed)
    with pytest.raises(KeyboardInterrupt):
        main(["age", str(tmp_path / "s.toml"), "--out", str(out), "--quiet", "--no-pictures"])
    assert not (out / MARKER).exists() and (out / "metrics.csv").exists()  # the old marker went first
    with pytest.raises(DataFileError, match=r"out: an unfinished aging run \(no summary.json"):
        folder_kind(out)
    assert main(["render", str(out)]) == 2 and "unfinished aging run" in capsys.readouterr().err
    monkeypatch.setattr(age_job, "write_summary", real)
    assert main(["age", str(tmp_path / "s.toml"), "--out", str(out), "--quiet", "--no-pictures"]) == 0
    assert folder_kind(out) == "aging"

