"""The verification report's words: never contradicting, and saying what follows."""

import pytest

from vault.report_text import format_report
from vault.verify import Gap, Problem, Run, VerifyReport

START_MS = 1_700_000_000_000


def report(
    present: list[Run], gaps: list[Gap], final: int | None, problems: list[Problem] | None = None
) -> VerifyReport:
    last = max(run.last for run in present)
    last_time = max(run.last_time_ms for run in present)
    return VerifyReport(
        recording_id="ab" * 16,
        device_key="tg-device-…",
        device_fingerprint="AAAA-BBBB-CCCC-DDDD",
        created_ms=START_MS,
        media_type="video/mp4",
        recipients=2,
        decrypted=False,
        chunks_valid=sum(run.last - run.first + 1 for run in present),
        present=present,
        gaps=gaps,
        problems=problems or [],
        final_index=final,
        last_index=last,
        last_time_ms=last_time,
    )


def line(text: str, name: str) -> str:
    return next(x for x in text.splitlines() if x.startswith(name)).removeprefix(name).strip()


COMPLETE = report([Run(0, 5, START_MS, START_MS + 4000)], [], final=5)
NO_FINAL = report([Run(0, 4, START_MS, START_MS + 3000)], [], final=None)
GAP = report(
    [Run(0, 1, START_MS, START_MS), Run(3, 5, START_MS + 2000, START_MS + 4000)],
    [Gap(2, 2, START_MS, START_MS + 2000)],
    final=5,
)
GAP_AND_NO_FINAL = report(
    [Run(0, 1, START_MS, START_MS), Run(3, 4, START_MS + 2000, START_MS + 3000)],
    [Gap(2, 2, START_MS, START_MS + 2000)],
    final=None,
)


def test_a_recording_without_its_final_chunk_is_not_missing_none() -> None:
    text = format_report(NO_FINAL)
    assert line(text, "Missing") != "none"
    assert "whatever followed chunk 4" in line(text, "Missing")
    assert "interrupted after chunk 4" in line(text, "Final")
    result = line(text, "Result")
    assert result.startswith("INCOMPLETE BUT AUTHENTIC")
    assert "interrupted before its final chunk" in result
    assert "missing" not in result  # nothing between the chunks is


def test_a_gap_is_named_and_the_end_is_said_to_be_there() -> None:
    text = format_report(GAP)
    assert line(text, "Missing").startswith("2 (between 0.0 s and 2.0 s)")
    assert "1 chunk(s) in between are missing" in line(text, "Result")
    assert "interrupted" not in text
    assert "present (chunk 5)" in line(text, "Final")


def test_a_gap_and_a_missing_end_are_both_said() -> None:
    text = format_report(GAP_AND_NO_FINAL)
    missing = line(text, "Missing")
    assert missing.startswith("2 (between")
    assert "whatever followed chunk 4" in missing
    result = line(text, "Result")
    assert "in between are missing" in result
    assert "interrupted" in result


def test_present_says_its_times_are_stamps_not_the_end_of_the_media() -> None:
    present = line(format_report(COMPLETE), "Present")
    assert present.startswith("0-5 (stamped 0.0 s to 4.0 s)")
    assert "may run past it" in present


@pytest.mark.parametrize(
    ("verify_report", "words"),
    [
        (COMPLETE, "this is the whole recording exactly as the device"),
        (NO_FINAL, "every part present is exactly as the device"),
        (GAP, "cannot tell whether that was lost"),
        (
            report([Run(0, 5, START_MS, START_MS + 4000)], [], 5, [Problem(3, "bad signature")]),
            "do not rely on the file as a whole",
        ),
    ],
)
def test_the_meaning_is_said_in_plain_words(verify_report: VerifyReport, words: str) -> None:
    meaning = line(format_report(verify_report), "Meaning")
    assert words in meaning
    assert "AAAA-BBBB-CCCC-DDDD" in meaning or "TAMPERED" in format_report(verify_report)
