"""Subject vocabularies for the offline provider: the words a field uses, picked by the brief's subject."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Lexicon:
    """Phrases that fit the templates' slots; each list's grammar is fixed so any item fits any slot use.

    audience: plural noun phrase ("home cooks"); pros: plural ("experienced cooks");
    resources: noun phrase with article ("a weekly shopping list"); metrics: noun phrase;
    benefits: verb phrase after "to"/"will" ("spend less at the store"); pitfalls: gerund phrase;
    concepts: singular or mass nouns ("batch cooking"); times: durations ("two weeks").
    """

    name: str
    triggers: frozenset[str]
    audience: str
    pros: tuple[str, ...]
    resources: tuple[str, ...]
    metrics: tuple[str, ...]
    benefits: tuple[str, ...]
    pitfalls: tuple[str, ...]
    concepts: tuple[str, ...]
    times: tuple[str, ...]


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


LEXICONS: tuple[Lexicon, ...] = (
    Lexicon(
        name="tech",
        triggers=_words(
            "software code coding developer developers api apis cloud kubernetes docker python javascript "
            "typescript rust golang java database databases devops app apps web server servers security "
            "ai ml llm data analytics backend frontend microservices testing deployment infrastructure saas "
            "programming linux git automation cybersecurity"
        ),
        audience="developers and technical teams",
        pros=("experienced engineers", "senior developers", "platform teams", "seasoned architects"),
        resources=(
            "a short design document", "a shared runbook", "an automated test suite",
            "a simple monitoring dashboard", "a checklist in the team wiki", "a small proof of concept",
        ),
        metrics=(
            "error rates", "deployment frequency", "response times", "the time it takes to recover from an incident",
            "how often builds fail",
        ),
        benefits=(
            "ship changes with more confidence", "spend less time firefighting", "catch problems before users do",
            "keep the system easier to change", "onboard new teammates faster",
        ),
        pitfalls=(
            "adding tools before the team understands the problem", "skipping tests to save a day",
            "copying a large company's setup without its constraints", "leaving documentation until the very end",
            "changing too many things in a single release",
        ),
        concepts=("automation", "documentation", "monitoring", "code review", "version control", "observability"),
        times=("one sprint", "two weeks", "a month"),
    ),
    Lexicon(
        name="marketing",
        triggers=_words(
            "seo marketing content brand branding social email campaign campaigns traffic conversion conversions "
            "ads advertising leads sales customers customer business startup ecommerce newsletter copywriting "
            "blog blogging keywords backlinks funnel engagement influencer b2b"
        ),
        audience="marketers and small business owners",
        pros=("experienced marketers", "successful founders", "content strategists", "growth teams"),
        resources=(
            "a simple content calendar", "a one-page marketing plan", "a shared spreadsheet of ideas",
            "a short customer survey", "a basic analytics dashboard", "a swipe file of examples you like",
        ),
        metrics=(
            "conversion rates", "organic traffic", "cost per lead", "email open rates",
            "how many visitors come back",
        ),
        benefits=(
            "reach the right people with less effort", "turn more visitors into customers",
            "spend your budget where it works", "build trust with your audience", "stand out in a crowded market",
        ),
        pitfalls=(
            "chasing every new channel at once", "writing for search engines instead of people",
            "ignoring the data you already have", "publishing without a clear goal",
            "giving up on a campaign before it has had time to work",
        ),
        concepts=("audience research", "positioning", "content planning", "testing", "storytelling", "consistency"),
        times=("a month", "six weeks", "one quarter"),
    ),
    Lexicon(
        name="finance",
        triggers=_words(
            "budget budgeting money saving savings save invest investing investment investments retirement debt "
            "credit loan loans mortgage tax taxes finance financial stocks income expenses spending pension "
            "insurance frugal wealth"
        ),
        audience="people who want more control over their money",
        pros=("financial planners", "experienced investors", "careful savers", "people who paid off large debts"),
        resources=(
            "a simple monthly budget", "a spreadsheet of regular expenses", "a separate savings account",
            "a calendar of bill due dates", "a written list of financial goals",
            "a short review at the end of each month",
        ),
        metrics=(
            "your savings rate", "monthly spending by category", "how much debt remains", "your net worth over time",
            "how many months of expenses you have set aside",
        ),
        benefits=(
            "stop wondering where the money went", "save for goals that matter to you",
            "handle surprises without borrowing", "pay off debt sooner", "make big decisions with less stress",
        ),
        pitfalls=(
            "tracking every cent for a week and then giving up", "ignoring small recurring costs",
            "chasing high returns without understanding the risk", "setting a budget that leaves no room for fun",
            "putting off decisions until the deadline",
        ),
        concepts=("budgeting", "compound interest", "diversification", "automation", "emergency saving", "planning"),
        times=("a month", "three months", "one pay cycle"),
    ),
    Lexicon(
        name="health",
        triggers=_words(
            "fitness workout workouts exercise running run marathon health healthy sleep yoga strength training "
            "weight diet nutrition mental stress wellness meditation cardio gym walking stretching mobility "
            "habits recovery posture"
        ),
        audience="people building healthier habits",
        pros=("experienced coaches", "physiotherapists", "seasoned athletes", "personal trainers"),
        resources=(
            "a simple training log", "a weekly schedule on paper", "a pair of comfortable shoes",
            "a reminder on your phone", "a short warm-up routine", "a realistic plan for rest days",
        ),
        metrics=(
            "how you feel after each session", "sleep quality", "your resting heart rate",
            "how consistently you show up", "small gains in strength or endurance",
        ),
        benefits=(
            "feel more energetic during the day", "sleep better", "reduce the risk of injury",
            "stay motivated for longer", "see steady progress without burning out",
        ),
        pitfalls=(
            "doing too much too soon", "skipping rest and recovery",
            "comparing yourself to people with years of practice", "ignoring pain that keeps coming back",
            "following a plan built for someone else",
        ),
        concepts=("recovery", "consistency", "progressive overload", "hydration", "sleep", "mobility"),
        times=("two weeks", "a month", "six weeks"),
    ),
    Lexicon(
        name="food",
        triggers=_words(
            "meal meals recipe recipes cooking cook baking bake food dinner dinners lunch breakfast grocery "
            "groceries vegan vegetarian coffee bread pantry kitchen snacks eating cuisine chef prep leftovers"
        ),
        audience="home cooks",
        pros=("experienced home cooks", "professional chefs", "busy parents", "seasoned bakers"),
        resources=(
            "a weekly shopping list", "a handful of reliable recipes", "a few good storage containers",
            "a well-stocked pantry", "a sharp knife and a large cutting board", "a simple menu on the fridge",
        ),
        metrics=(
            "your weekly grocery spend", "how much food gets thrown away", "how often you cook at home",
            "the time you spend in the kitchen", "how many meals come together without a last-minute shop",
        ),
        benefits=(
            "spend less at the store", "waste less food", "put a good meal on the table on busy nights",
            "eat more variety without extra effort", "enjoy cooking again",
        ),
        pitfalls=(
            "planning elaborate dishes for busy weeknights", "buying ingredients without a plan",
            "ignoring what is already in the fridge", "cooking new recipes every single night",
            "forgetting to plan for leftovers",
        ),
        concepts=("batch cooking", "seasoning", "meal prep", "portion planning", "food storage", "flavor balance"),
        times=("a week", "two weeks", "a month"),
    ),
    Lexicon(
        name="travel",
        triggers=_words(
            "travel traveling travelling trip trips vacation vacations flight flights hotel hotels backpacking "
            "itinerary destination destinations tourism packing abroad holiday holidays airport passport luggage "
            "tour tours road camping cruise"
        ),
        audience="travelers",
        pros=("seasoned travelers", "frequent flyers", "tour guides", "experienced backpackers"),
        resources=(
            "a simple packing list", "a rough day-by-day itinerary", "offline maps on your phone",
            "a small travel budget spreadsheet", "copies of your important documents", "a flexible booking or two",
        ),
        metrics=(
            "your daily spending", "how much time you spend in transit", "how rested you feel",
            "how many plans you actually enjoyed", "the cost of last-minute changes",
        ),
        benefits=(
            "travel with less stress", "stretch your budget further", "spend more time enjoying each place",
            "avoid costly surprises", "come home with better memories",
        ),
        pitfalls=(
            "packing for every possible scenario", "scheduling every hour of every day",
            "booking the cheapest option without reading the terms", "leaving documents until the last minute",
            "ignoring local customs and opening hours",
        ),
        concepts=("flexibility", "packing light", "travel insurance", "local transport", "budgeting", "timing"),
        times=("a weekend", "a week", "two weeks"),
    ),
    Lexicon(
        name="home",
        triggers=_words(
            "home house garden gardening plants plant cleaning decor decorating renovation diy furniture lawn "
            "apartment moving organizing organization declutter decluttering storage repair repairs paint "
            "painting interior landscaping"
        ),
        audience="homeowners and renters",
        pros=("experienced gardeners", "professional organizers", "seasoned DIYers", "interior designers"),
        resources=(
            "a notebook of measurements", "a basic tool kit", "a simple weekly checklist",
            "a few labeled storage boxes", "a realistic budget for materials",
            "a photo of the space before you start",
        ),
        metrics=(
            "the time each task takes", "what you spend on materials", "how long the space stays tidy",
            "how often repairs come back", "how much you enjoy the space",
        ),
        benefits=(
            "enjoy a space that works for you", "save money on repairs", "spend less time on chores",
            "avoid projects that drag on for months", "feel calmer at home",
        ),
        pitfalls=(
            "starting several projects at once", "buying materials before measuring",
            "underestimating how long the job will take", "copying a look that does not suit the space",
            "skipping the preparation work",
        ),
        concepts=("preparation", "storage", "lighting", "maintenance", "layout", "seasonal planning"),
        times=("a weekend", "a month", "one season"),
    ),
    Lexicon(
        name="education",
        triggers=_words(
            "learn learning study studying student students school course courses exam exams language languages "
            "teaching teacher teachers skills skill reading writing homework university college tutoring "
            "education lesson lessons practice"
        ),
        audience="learners and students",
        pros=("experienced teachers", "successful students", "language tutors", "lifelong learners"),
        resources=(
            "a simple study schedule", "a set of flashcards", "a quiet place to work", "a notebook for questions",
            "a study partner", "a list of past exam questions",
        ),
        metrics=(
            "how much you can recall a week later", "practice test scores", "the hours you actually study",
            "how many topics you can explain without notes", "how confident you feel before a test",
        ),
        benefits=(
            "remember more of what you study", "walk into exams feeling prepared",
            "learn faster with less frustration", "stay motivated between lessons",
            "use what you learn in real situations",
        ),
        pitfalls=(
            "rereading notes instead of testing yourself", "cramming everything the night before",
            "studying for hours without breaks", "skipping the topics you find hard",
            "collecting resources instead of using them",
        ),
        concepts=("spaced repetition", "active recall", "deliberate practice", "note-taking", "feedback", "focus"),
        times=("a week", "two weeks", "a month"),
    ),
)

GENERAL = Lexicon(
    name="general",
    triggers=frozenset(),
    audience="beginners and busy professionals",
    pros=("experienced practitioners", "people who have done this for years", "specialists", "mentors"),
    resources=(
        "a simple written plan", "a short checklist", "a calendar reminder", "a notebook for ideas",
        "a trusted second opinion", "a small budget set aside",
    ),
    metrics=(
        "the time you spend each week", "what it costs", "how often you hit your targets",
        "how satisfied you feel with the results", "the number of problems that come up",
    ),
    benefits=(
        "save time", "avoid costly mistakes", "make better decisions", "stay consistent",
        "get better results with less effort",
    ),
    pitfalls=(
        "trying to do everything at once", "skipping the planning stage",
        "copying someone else's approach without adapting it", "waiting for the perfect moment to start",
        "ignoring early warning signs",
    ),
    concepts=("planning", "consistency", "feedback", "prioritization", "preparation", "patience"),
    times=("a week", "two weeks", "a month"),
)

_TOKEN = re.compile(r"[a-z0-9]+")


def detect_lexicon(text: str) -> Lexicon:
    """The lexicon whose trigger words occur most in `text` (title, keywords, domain); GENERAL if none do."""
    tokens = _TOKEN.findall(text.lower())
    best, best_score = GENERAL, 0
    for lexicon in LEXICONS:
        score = sum(1 for token in tokens if token in lexicon.triggers)
        if score > best_score:
            best, best_score = lexicon, score
    return best
