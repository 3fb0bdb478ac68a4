"""A sample user's context for the pacing demo, the benchmark and the tests: knowledge documents and meeting notes."""

from __future__ import annotations

from datetime import date, timedelta

DOCUMENTS: list[dict] = [
    {"title": "Heat pump retrofits: field guide", "format": "markdown", "body": """# Heat pump retrofits

## Sizing
A heat pump retrofit starts with a room-by-room heat loss calculation, not with the old boiler's rating.
Oversized heat pumps short-cycle, wear out early and cost more to run.
Most of the older houses we survey need a smaller heat pump than the owners expect.

## Radiators and flow temperature
Heat pumps work best at low flow temperatures, around 45 °C or below.
Swapping two or three undersized radiators is often enough to let the whole house run at a low flow temperature.

## Insulation first
Loft insulation and draught-proofing are cheap and cut the heat loss before the heat pump is sized.
We ask every customer to finish the insulation work before the installation date."""},
    {"title": "Customer onboarding checklist", "format": "markdown", "body": """# Onboarding a new customer

Customer onboarding begins with the survey visit and ends two weeks after the installation.
During onboarding we explain the heat pump controls, the weather compensation curve and the first energy bill.

## The first energy bill
The first energy bill after a heat pump installation is the moment customers judge us.
We send a short note before the first energy bill explaining why winter bills look different.

## Follow-up call
A follow-up call in week two catches most thermostat problems before they become complaints."""},
    {"title": "Demand response pilot summary", "format": "markdown", "body": """# Demand response pilot

Our demand response pilot shifted heat pump load out of the evening peak for 140 homes.
Homes pre-heated by one degree before the peak and coasted through it without comfort complaints.
The demand response pilot saved customers about 11 percent on their energy bill on a time-of-use tariff.

## What we learned
Good insulation made the difference: well insulated homes could coast for three hours.
Customers want to see the savings, so the app now shows demand response savings every week."""},
    {"title": "Installer training notes", "format": "text", "body": """Installer training covers commissioning, flow temperature settings and handover.
New installers shadow two heat pump installations before leading one.
Commissioning errors, such as a wrong weather compensation curve, are the most common cause of high energy bills.
Installer training now includes a half-day on explaining the controls to customers during onboarding."""},
    {"title": "Insulation grants explained", "format": "markdown", "body": """# Insulation grants

Several councils now fund loft insulation and cavity wall insulation for homes planning a heat pump.
Insulation grants cover up to 75 percent of the cost for qualifying households.
We help customers apply for insulation grants during the survey visit."""},
    {"title": "Noise and placement of outdoor units", "format": "text", "body": """Outdoor unit placement matters for noise and for efficiency.
Keep the outdoor unit away from bedroom windows and leave enough space for airflow.
Neighbours rarely complain when the outdoor unit is placed with care and the installer explains the noise levels."""},
]

MEETINGS: list[dict] = [
    {"title": "Weekly product sync", "days_ago": 1, "participants": ["Maya", "Tom", "Priya"], "kind": "notes", "notes": """
Demand response: the pilot results are in and the board wants demand response in every new contract.
Priya will draft the demand response terms for the time-of-use tariff.
Customer onboarding: two complaints this week about the first energy bill; we should send the bill explainer earlier.
Next step: Tom will test a heat pump savings report in the app."""},
    {"title": "Installer stand-up", "days_ago": 3, "participants": ["Maya", "Dev", "Sam"], "kind": "transcript", "notes": """
Dev: Commissioning went fine at all three heat pump installations this week.
Sam: One customer had the wrong weather compensation curve, so the flow temperature was too high.
Maya: Let's add the weather compensation check to installer training and to the handover sheet.
Dev: Agreed. The flow temperature should be below 45 degrees in most retrofits."""},
    {"title": "Customer council", "days_ago": 6, "participants": ["Maya", "Ana", "Lee", "Customer panel"], "kind": "notes", "notes": """
Customers said the demand response pilot felt invisible, which is good: no comfort complaints.
Several customers asked for insulation advice before their heat pump installation.
The panel wants a clearer first energy bill and a simple savings report."""},
    {"title": "Partnerships call", "days_ago": 9, "participants": ["Maya", "Grid operator"], "kind": "notes", "notes": """
The grid operator will pay for demand response events from next quarter.
Demand response events will be announced a day ahead, so homes can pre-heat.
We agreed to share anonymised heat pump load data from the pilot."""},
]

_EXTRA_TOPICS = [
    ("Hot water cylinders", "A heat pump needs a hot water cylinder sized for the household. "
     "Hot water cylinders with a large coil reheat faster at low flow temperatures. "
     "We replace combi boilers with a hot water cylinder in most retrofits."),
    ("Smart thermostats", "Smart thermostats help customers follow a heat pump schedule. "
     "Most smart thermostats support weather compensation when the installer enables it. "
     "Customers with smart thermostats call support less often."),
    ("Solar and batteries", "Solar panels and a home battery can run the heat pump through the evening peak. "
     "Homes with solar panels see the biggest savings on a time-of-use tariff. "
     "Battery sizing depends on the evening heat pump load."),
    ("Financing", "Green loans spread the cost of a heat pump over ten years. "
     "Financing approvals take about a week, so we start them at the survey visit. "
     "Customers choose financing more often when the savings report is clear."),
]


def sample_documents(n: int = len(DOCUMENTS)) -> list[dict]:
    """`n` knowledge documents: the hand-written ones, then variations on further topics."""
    docs = [dict(d) for d in DOCUMENTS[:n]]
    i = 0
    while len(docs) < n:
        title, text = _EXTRA_TOPICS[i % len(_EXTRA_TOPICS)]
        docs.append({"title": f"{title} (note {i // len(_EXTRA_TOPICS) + 1})", "format": "markdown",
                     "body": f"# {title}\n\n{text}\n\n## Why it matters\n\n{DOCUMENTS[i % len(DOCUMENTS)]['body'].split(chr(10), 2)[-1]}"})
        i += 1
    return docs


def sample_meetings(today: date, n: int = len(MEETINGS)) -> list[dict]:
    """`n` meetings held in the days before `today`, as POST /v1/users/{id}/meetings bodies."""
    out = []
    for i in range(n):
        m = MEETINGS[i % len(MEETINGS)]
        days_ago = m["days_ago"] + 10 * (i // len(MEETINGS))
        suffix = "" if i < len(MEETINGS) else f" #{i // len(MEETINGS) + 1}"
        out.append({"title": m["title"] + suffix, "held_on": (today - timedelta(days=days_ago)).isoformat(),
                    "participants": m["participants"], "kind": m["kind"], "notes": m["notes"].strip()})
    return out
