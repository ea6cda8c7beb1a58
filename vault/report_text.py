"""The human-readable verification report printed by `testigo verify` and `decrypt`.

Each line states one fact, and the last two lines say what follows from them: `Result`
(the status and why) and `Meaning` (what a reader such as a lawyer may conclude). No line
contradicts another: "missing" means a gap between chunks that arrived, and a recording
that stops without its final chunk is "interrupted after chunk N" (FORMAT.md), never
"missing none" followed by "some are missing".
"""

from datetime import UTC, datetime

from vault.verify import Status, VerifyReport


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f} s"


def _range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _present(report: VerifyReport) -> str:
    if not report.present:
        return "none"
    runs = ", ".join(
        f"{_range(r.first, r.last)} (stamped {_seconds(report.seconds(r.first_time_ms))}"
        f" to {_seconds(report.seconds(r.last_time_ms))})"
        for r in report.present
    )
    return f"{runs}; a stamp is the device clock at sealing, the last chunk's media may run past it"


def _missing(report: VerifyReport) -> str:
    gaps = ", ".join(
        f"{_range(g.first, g.last)} (between {_seconds(report.seconds(g.after_time_ms))}"
        f" and {_seconds(report.seconds(g.before_time_ms))})"
        for g in report.gaps
    )
    if report.final_index is None and report.last_index is not None:
        end = f"whatever followed chunk {report.last_index} (the end never arrived)"
        return f"{gaps} and {end}" if gaps else end
    return gaps or "none"


def _final(report: VerifyReport) -> str:
    if report.final_index is not None:
        return f"present (chunk {report.final_index}): the device ended the recording"
    if report.last_index is not None:
        return (
            f"absent: interrupted after chunk {report.last_index}"
            f" (t = {_seconds(report.seconds(report.last_time_ms))})"
        )
    return "absent: no valid chunk at all"


def _result(report: VerifyReport) -> str:
    status = report.status
    if status is Status.COMPLETE:
        return "COMPLETE: every chunk present, authentic, in order, final chunk present"
    if status is Status.TAMPERED:
        return "TAMPERED: some data failed authentication or is out of place"
    if status is Status.MALFORMED:
        return "MALFORMED: the file is damaged after the last readable chunk"
    reasons = []
    if report.gaps:
        reasons.append(f"{len(report.missing_indices)} chunk(s) in between are missing")
    if report.final_index is None:
        reasons.append("it was interrupted before its final chunk")
    if report.media_before_init is not None:
        reasons.append("its media has no init segment before it (players cannot decode it)")
    return "INCOMPLETE BUT AUTHENTIC: every chunk present is genuine; " + " and ".join(reasons)


def _meaning(report: VerifyReport) -> str:
    status = report.status
    device = f"the device with fingerprint {report.device_fingerprint}"
    if status is Status.COMPLETE:
        return (
            f"this is the whole recording exactly as {device} sealed it; nothing was added, "
            "removed, reordered or changed since."
        )
    if status is Status.INCOMPLETE:
        lost = []
        if report.gaps:
            lost.append("the stretches listed as missing")
        if report.final_index is None:
            lost.append("whatever was recorded after the last chunk present")
        if report.media_before_init is not None:
            lost.append("the init segment that the media needs to be played")
        return (
            f"every part present is exactly as {device} sealed it and can be relied on; "
            f"this file lacks {' and '.join(lost)}. The file alone cannot tell whether that "
            "was lost (a seized phone, a cut connection) or left out; the relay's receipts "
            "(verify --relay-key) show what the relay received."
        )
    if status is Status.TAMPERED:
        return (
            "parts of this file are not as the device sealed them (listed above): do not rely "
            "on the file as a whole; the chunks that passed every check are still genuine."
        )
    return (
        "the chunks before the damage are checked as reported above; nothing after the "
        "damage could be read or checked."
    )


def format_report(report: VerifyReport) -> str:
    started = datetime.fromtimestamp(report.created_ms / 1000, UTC)
    lines = [
        f"Recording   {report.recording_id}",
        f"Media       {report.media_type}",
        f"Device      {report.device_fingerprint}  ({report.device_key})",
        f"Started     {started:%Y-%m-%d %H:%M:%S} UTC (device clock)",
        f"Recipients  {report.recipients} (sealed; the header does not say who)",
        f"Chunks      {report.chunks_valid} valid, {report.bytes_valid:,} bytes",
        f"Present     {_present(report)}",
        f"Missing     {_missing(report)}",
        f"Final       {_final(report)}",
    ]
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
    lines.append(f"Result      {_result(report)}")
    lines.append(f"Meaning     {_meaning(report)}")
    return "\n".join(lines)
