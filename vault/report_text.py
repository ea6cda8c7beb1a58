"""The human-readable verification report printed by `testigo verify` and `decrypt`."""

from datetime import UTC, datetime

from vault.verify import Status, VerifyReport

VERDICTS = {
    Status.COMPLETE: "COMPLETE: every chunk present, authentic, in order, final chunk present",
    Status.INCOMPLETE: "INCOMPLETE BUT AUTHENTIC: every chunk present is genuine; some are missing",
    Status.TAMPERED: "TAMPERED: some data failed authentication or is out of place",
    Status.MALFORMED: "MALFORMED: the file is damaged after the last readable chunk",
}


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


def _range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def format_report(report: VerifyReport) -> str:
    started = datetime.fromtimestamp(report.created_ms / 1000, UTC)
    lines = [
        f"Recording   {report.recording_id}",
        f"Media       {report.media_type}",
        f"Device      {report.device_fingerprint}  ({report.device_key})",
        f"Started     {started:%Y-%m-%d %H:%M:%S} UTC (device clock)",
        f"Recipients  {report.recipients} (sealed; the header does not say who)",
        f"Chunks      {report.chunks_valid} valid, {report.bytes_valid:,} bytes",
    ]
    present = ", ".join(
        f"{_range(r.first, r.last)} ({_seconds(report.seconds(r.first_time_ms))}"
        f" to {_seconds(report.seconds(r.last_time_ms))})"
        for r in report.present
    )
    lines.append(f"Present     {present or 'none'}")
    if report.gaps:
        missing = ", ".join(
            f"{_range(g.first, g.last)} (between {_seconds(report.seconds(g.after_time_ms))}"
            f" and {_seconds(report.seconds(g.before_time_ms))})"
            for g in report.gaps
        )
        lines.append(f"Missing     {missing}")
    else:
        lines.append("Missing     none")
    if report.final_index is not None:
        lines.append(f"Final       present (chunk {report.final_index})")
    elif report.last_index is not None:
        lines.append(
            f"Final       absent: interrupted after chunk {report.last_index}"
            f" (t = {_seconds(report.seconds(report.last_time_ms))})"
        )
    else:
        lines.append("Final       absent: no valid chunk at all")
    invalid = [x for x in report.problems if x.what != "hash chain broken"]
    lines.append(
        "Signatures  header valid; "
        + ("all chunks valid" if not invalid else f"{len(invalid)} chunk(s) rejected")
    )
    for problem in report.problems:
        where = "?" if problem.index is None else str(problem.index)
        lines.append(f"  - chunk {where}: {problem.what}")
    lines.append(f"Hash chain  {'intact' if report.chain_intact else 'BROKEN'}")
    if report.framing_error:
        lines.append(f"Framing     {report.framing_error}")
    lines.append(
        "Decryption  "
        + (
            "every valid chunk opened with the given identity"
            if report.decrypted
            else "not checked (no --identity given; signatures only)"
        )
    )
    if report.locations:
        lines.append(f"Locations   {report.locations} sealed location update(s)")
    lines.append(f"Result      {VERDICTS[report.status]}")
    return "\n".join(lines)
