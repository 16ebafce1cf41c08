"""``incident-report.md``: a blameless postmortem skeleton with the facts already in it.

The sections are those of the Google SRE book's example postmortem (summary, impact, root
causes, trigger, resolution, detection, action items, lessons learned, timeline,
supporting information). What a machine knows is filled in: the date, the status lines,
the backlog and worker facts, timestamps for the timeline. What only people know (why,
what was done, what to change) is left as prompts, because a guessed root cause is worse
than a blank one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from duespark.ops.status import StatusReport, human_duration


def render_report(
    status: StatusReport, sections: dict[str, Any], taken_at: datetime, files: list[str]
) -> str:
    checks = {check.name: check for check in status.checks}
    errors = getattr(sections.get("errors"), "data", None) or {}
    stamp = f"{taken_at:%Y-%m-%d %H:%M} UTC"
    impact = _impact_facts(checks, errors)
    timeline = _timeline(checks, errors, taken_at)
    status_block = "\n".join([*status.lines(), status.summary()])
    parts = [
        f"# Incident report: _one line: what users saw_ ({taken_at:%Y-%m-%d})",
        "",
        f"- **Date:** {stamp} (facts gathered by `duespark incident snapshot`)",
        "- **Authors:** _names_",
        "- **Status:** draft, investigation in progress",
        "- **Severity:** _P0 complete outage · P1 major function broken · P2 minor · "
        "P3 no user impact_",
        f"- **State at snapshot time:** {status.summary().removeprefix('status: ')}",
        "",
        "## Summary",
        "",
        "_Two or three sentences: what happened, how long it lasted, who was affected, "
        "how it was fixed._",
        "",
        "## Impact",
        "",
        "Facts at snapshot time:",
        "",
        *[f"- {fact}" for fact in impact],
        "",
        "_Add: how many users and clients were affected, reminders sent late or not at all, "
        "requests failed (see the error rate in metrics.prom or your dashboards)._",
        "",
        "## Timeline (UTC)",
        "",
        "| time | event |",
        "| --- | --- |",
        *[f"| {when:%Y-%m-%d %H:%M:%S} | {what} |" for when, what in timeline],
        "| _time_ | _first alert or report; escalation; mitigation; resolution_ |",
        "",
        "## Root cause(s)",
        "",
        "_Why it happened; keep asking why. Blameless: systems and processes, not people._",
        "",
        "## Trigger",
        "",
        "_What set it off (a deploy, a key rotation, a traffic spike, a provider outage)._",
        "",
        "## Resolution",
        "",
        "_What was done to mitigate, then to fix; what verified that it worked "
        "(`duespark status` back to ok?)._",
        "",
        "## Detection",
        "",
        "_How it was noticed (alert, user report, by chance) and how it could be noticed sooner._",
        "",
        "## Action items",
        "",
        "| action item | type | owner | bug |",
        "| --- | --- | --- | --- |",
        "| _..._ | mitigate / prevent / process | _name_ | _link_ |",
        "",
        "## Lessons learned",
        "",
        "### What went well",
        "",
        "_..._",
        "",
        "### What went wrong",
        "",
        "_..._",
        "",
        "### Where we got lucky",
        "",
        "_..._",
        "",
        "## Supporting information",
        "",
        "### Status at snapshot time",
        "",
        "```",
        status_block,
        "```",
        "",
        "### Files in this folder",
        "",
        *[f"- `{name}`" for name in files],
        "",
    ]
    return "\n".join(parts)


def _impact_facts(checks: dict[str, Any], errors: dict[str, Any]) -> list[str]:
    facts = []
    outbox = checks.get("outbox")
    if outbox is not None and "pending" in outbox.data:
        data = outbox.data
        fact = f"outbox: {data['pending']} email(s) pending, {data['due']} due now"
        if data["due"]:
            fact += (
                f"; the oldest due one has waited {human_duration(data['oldest_due_age_seconds'])}"
            )
        facts.append(fact)
    dead = checks.get("dead letters")
    if dead is not None and "dead" in dead.data:
        facts.append(f"dead letters: {dead.data['dead']}")
    worker = checks.get("worker")
    if worker is not None:
        facts.append(f"worker: {worker.level.value}, {worker.detail}")
    deliveries = errors.get("deliveries") or []
    reminders = errors.get("reminders") or []
    facts.append(
        f"recent delivery errors listed: {len(deliveries)}; failed reminders: {len(reminders)}"
    )
    for name in ("database", "schema", "configuration"):
        check = checks.get(name)
        if check is not None and check.level.value != "ok":
            facts.append(f"{name}: {check.level.value}, {check.detail}")
    return facts


def _timeline(
    checks: dict[str, Any], errors: dict[str, Any], taken_at: datetime
) -> list[tuple[datetime, str]]:
    events: list[tuple[datetime, str]] = [
        (taken_at, "snapshot taken (`duespark incident snapshot`)")
    ]
    worker = checks.get("worker")
    if worker is not None and worker.data.get("last_seen_at"):
        events.append(
            (datetime.fromisoformat(worker.data["last_seen_at"]), "last worker heartbeat")
        )
    outbox = checks.get("outbox")
    if outbox is not None and outbox.data.get("due"):
        since = taken_at - timedelta(seconds=outbox.data["oldest_due_age_seconds"])
        events.append((since, "the oldest email still waiting became due"))
    deliveries = errors.get("deliveries") or []
    if deliveries:
        events.append((datetime.fromisoformat(deliveries[0]["at"]), "latest delivery error"))
        events.append(
            (datetime.fromisoformat(deliveries[-1]["at"]), "earliest delivery error listed")
        )
    reminders = errors.get("reminders") or []
    if reminders:
        events.append((datetime.fromisoformat(reminders[0]["at"]), "latest failed reminder"))
    return sorted(set(events), key=lambda event: event[0])
