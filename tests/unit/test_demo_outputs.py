"""The demo names its output files by sample, so that a re-run replaces its own files instead of adding more."""

from __future__ import annotations

import io

from planperfect.demo import SAMPLES, demo_console, output_stem, progress_line, write_result


def test_outputs_are_named_by_the_samples_slug_and_stable_across_runs():
    stems = [output_stem(i) for i in range(len(SAMPLES))]
    assert stems[0] == "choosing-a-heat-pump-for-an-old-house"
    assert stems[2] == "acme-widgets-returns-faq"  # a schema job: it has no article slug of its own
    assert len(set(stems)) == len(SAMPLES)
    assert stems == [output_stem(i) for i in range(len(SAMPLES))]  # nothing random, nothing from a job id


def test_more_jobs_than_samples_do_not_overwrite_each_other():
    n = len(SAMPLES)
    assert output_stem(n) == output_stem(0) + "-2" and output_stem(2 * n + 1) == output_stem(1) + "-3"
    assert len({output_stem(i) for i in range(3 * n)}) == 3 * n


def test_a_rerun_replaces_its_files(tmp_path):
    article = {"markdown": "# first", "html": "<h1>first</h1>", "json_ld": {"@type": "Article"}}
    first = write_result(tmp_path, output_stem(0), article)
    second = write_result(tmp_path, output_stem(0), article | {"markdown": "# second"})
    assert first == second and sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in first)
    assert (tmp_path / f"{output_stem(0)}.md").read_text() == "# second"


def test_without_a_terminal_the_console_is_plain_and_wide(monkeypatch):
    monkeypatch.setattr("sys.stdout", io.StringIO())
    console = demo_console()
    assert not console.is_terminal and console.no_color and console.width >= 160


def test_piped_progress_lines_keep_the_whole_title():
    title = "Onboarding Remote Engineers in Their First Ninety Days"
    line = progress_line({"title": title, "job_type": "article", "status": "completed"})
    assert title in line and line.endswith("completed")
