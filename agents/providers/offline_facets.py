"""The offline writer's section kinds ("facets"): headings, points and sentence templates for each.

Template grammar: `{kw}` is a noun phrase of either number, so it only follows a preposition, stands as
an object, or takes a modal verb ("{kw} can"); `{Kw}` is its title-cased form for headings. The other
slots come from the subject's `Lexicon` (see its docstring for each list's grammar).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ListKind(StrEnum):
    BULLETS = "bullets"
    NUMBERED = "numbered"


@dataclass(frozen=True)
class Facet:
    name: str
    headings: tuple[str, ...]
    leads: tuple[str, ...]
    points: tuple[str, ...]
    sentences: tuple[str, ...]
    key_point: str
    list_source: str | None = None
    list_kind: ListKind = ListKind.BULLETS
    list_intros: tuple[str, ...] = ()


FACETS: dict[str, Facet] = {
    f.name: f
    for f in (
        Facet(
            name="basics",
            headings=("{Kw} in Plain Terms", "Understanding {Kw}", "The Core Ideas Behind {Kw}"),
            leads=(
                "When people talk about {kw}, they usually mean a handful of simple ideas applied consistently.",
                "The idea behind {kw} is simpler than it first appears.",
                "A useful way to think about {kw} is as a set of small, repeatable habits rather than one big project.",
            ),
            points=("Know the key terms", "Separate the essentials from the extras", "See how the pieces fit together",
                    "Learn the vocabulary of {kw}"),
            sentences=(
                "Once you understand the basic building blocks, the rest of the subject becomes much easier to follow.",
                "Most of the confusion around {kw} comes from jargon rather than from the ideas themselves.",
                "It helps to separate the essentials from the nice-to-haves before going any deeper.",
                "The fundamentals rarely change, even when the tools and trends around them do.",
                "A clear mental model of {kw} saves a lot of trial and error later on.",
                "{concept} sits at the center of it, and almost everything else builds on top of it.",
                "If you can explain the basics in two or three sentences, you understand them well enough to start.",
                "Beginners often assume they need to master every detail first, but a working grasp is enough.",
            ),
            key_point="Understanding the core ideas behind {kw} makes every later decision easier.",
        ),
        Facet(
            name="benefits",
            headings=("The Real Benefits of {Kw}", "What You Gain from {Kw}", "Reasons to Care About {Kw}"),
            leads=(
                "The strongest case for {kw} is practical: it helps you {benefit}.",
                "People who take {kw} seriously tend to notice the difference within {time}.",
                "Done well, work on {kw} pays off in ways that are easy to see and easy to measure.",
            ),
            points=("Save time and effort", "Make decisions with more confidence", "Build momentum that lasts",
                    "Turn {kw} into a long-term advantage"),
            sentences=(
                "The first benefit most people notice is that they {benefit}.",
                "Another advantage is that you {benefit}, which matters more as things grow.",
                "The benefits build on each other, so small gains early on lead to larger ones later.",
                "There is also a quieter benefit: less stress, because you know what to do next.",
                "It is hard to overstate how much easier everything becomes when you can {benefit}.",
                "Even modest improvements in {metric} can make a noticeable difference over a year.",
                "The rewards are not only practical; many {audience} say the work simply becomes more enjoyable.",
            ),
            key_point="The main payoff of {kw} is that it helps you {benefit}.",
            list_source="benefits",
            list_intros=("In short, a good approach helps you:", "The main benefits are easy to list:"),
        ),
        Facet(
            name="getting_started",
            headings=("Getting Started with {Kw}", "First Steps with {Kw}", "How to Begin with {Kw}"),
            leads=(
                "The best way to start with {kw} is to pick one small goal and work on it for {time}.",
                "Getting started with {kw} does not require a big investment of time or money.",
                "If you are new to {kw}, begin with the simplest version that could possibly work.",
            ),
            points=("Pick one clear goal", "Gather what you need", "Start small and stay consistent",
                    "Set a realistic timeline for {kw}"),
            sentences=(
                "Start by writing down what a good result would look like for you.",
                "Choose a starting point that feels almost too easy; you can raise the bar later.",
                "Gather {resource} before you begin, so you are not scrambling halfway through.",
                "Give yourself {time} to settle into a routine before you judge the results.",
                "It is tempting to change everything at once, but one change at a time teaches you far more.",
                "Expect the first attempt to be rough, and treat it as practice rather than a test.",
                "A short, regular slot in your calendar is more useful than an occasional long session.",
                "Ask yourself what is stopping you from starting today, and remove that obstacle first.",
            ),
            key_point="Starting small with {kw} and staying consistent beats an ambitious plan that stalls.",
            list_source="resources",
            list_intros=("A few things make the first weeks easier:", "Before you begin, it helps to have:"),
        ),
        Facet(
            name="process",
            headings=("A Step-by-Step Approach to {Kw}", "How to Put {Kw} into Practice", "A Simple Routine for {Kw}"),
            leads=(
                "A repeatable process turns {kw} from a one-off effort into something you can rely on.",
                "The steps below give {kw} a simple structure you can follow and adapt.",
                "Breaking {kw} into clear steps makes it far easier to stay on track.",
            ),
            points=("Define the outcome", "Plan the first iteration", "Review and adjust", "Make {kw} a routine"),
            sentences=(
                "Each step should have a clear finish line, so you always know when to move on.",
                "Write the steps down, even if they seem obvious, because it makes them easier to repeat.",
                "After each cycle, note one thing to keep and one thing to change.",
                "The order matters less than the habit of finishing each step before starting the next.",
                "Keep the process light enough that you will actually follow it on a busy day.",
                "Once the routine feels natural, look for the step that takes the longest and simplify it.",
                "A process is only useful if it is followed, so resist the urge to make it complicated.",
                "Review the whole routine every {period} and remove anything that no longer helps.",
            ),
            key_point="A simple, repeatable process for {kw} matters more than any single technique.",
            list_source="steps",
            list_kind=ListKind.NUMBERED,
            list_intros=("Here is a simple sequence to follow:", "A basic routine looks like this:"),
        ),
        Facet(
            name="tools",
            headings=("Tools and Resources for {Kw}", "What You Need for {Kw}", "Choosing the Right Tools for {Kw}"),
            leads=(
                "You need fewer tools for {kw} than most product pages would suggest.",
                "The right tools make {kw} easier, but only once you know what problem they solve.",
                "When it comes to tools for {kw}, simple and reliable usually beats powerful and complicated.",
            ),
            points=("Use what you already own", "Add tools only when they solve a real problem",
                    "Keep your setup simple", "Review your tools for {kw} regularly"),
            sentences=(
                "Start with what you already have and add tools only when a real need appears.",
                "{resource} is often enough to cover the basics.",
                "Before adopting anything new, ask what it would replace and whether that trade is worth it.",
                "The best tool is the one you will actually use every {period}.",
                "Free options are usually good enough at the start; paid ones earn their place later.",
                "Every extra tool adds something to learn and maintain, so choose deliberately.",
                "Ask {pros} what they use, and you will hear the same few names again and again.",
                "A tool cannot fix an unclear goal, so settle the goal first.",
            ),
            key_point="The right tools support {kw}, but a clear goal matters more than any product.",
            list_source="resources",
            list_intros=("A practical starter kit might include:", "Most people get by with:"),
        ),
        Facet(
            name="mistakes",
            headings=("Common Mistakes with {Kw}", "Pitfalls to Avoid with {Kw}", "What to Avoid with {Kw}"),
            leads=(
                "Most problems with {kw} come from a few predictable mistakes.",
                "The mistakes people make with {kw} are remarkably consistent, which makes them easy to avoid.",
                "It is worth learning the common pitfalls of {kw} before you run into them yourself.",
            ),
            points=("Avoid doing too much at once", "Do not skip the planning", "Watch for early warning signs",
                    "Learn from other people's {kw} mistakes"),
            sentences=(
                "One of the most common mistakes is {pitfall}.",
                "Another frequent problem is {pitfall}, which quietly undermines good work.",
                "Many setbacks come from {pitfall}, so it is worth checking for this early.",
                "Mistakes are part of learning, but repeating the same one is a sign the process needs to change.",
                "If you notice a problem, fix the cause rather than the symptom.",
                "Be wary of advice that promises fast results with no effort.",
                "Perfectionism is a mistake too, because it delays the feedback you need to improve.",
                "A short review after each attempt catches most mistakes before they become habits.",
            ),
            key_point="Most setbacks with {kw} come from a few predictable mistakes, such as {pitfall}.",
            list_source="pitfalls",
            list_intros=("Watch out for these in particular:", "The usual suspects are:"),
        ),
        Facet(
            name="measuring",
            headings=("How to Measure Progress with {Kw}", "Tracking Results from {Kw}", "Measuring Success with {Kw}"),
            leads=(
                "You cannot improve {kw} if you do not know where you stand.",
                "Measuring progress with {kw} does not have to be complicated.",
                "A few simple numbers will tell you whether your work on {kw} is paying off.",
            ),
            points=("Choose a few simple measures", "Record a baseline", "Review results on a schedule",
                    "Track what matters for {kw}"),
            sentences=(
                "Pick two or three measures that reflect what you care about, such as {metric}.",
                "Record a starting point before you change anything, or you will have nothing to compare against.",
                "Check your numbers every {period}, not every day, so that normal ups and downs do not mislead you.",
                "A simple spreadsheet is enough to see trends over time.",
                "Look for direction rather than precision; a rough trend is more useful than a perfect snapshot.",
                "If a measure never changes your decisions, stop tracking it.",
                "Pair the numbers with a short note on what you tried, so the data tells a story.",
                "When results dip, check {metric} first before assuming the whole approach is wrong.",
            ),
            key_point="Tracking a few simple measures, such as {metric}, shows whether {kw} is working.",
            list_source="metrics",
            list_intros=("Useful things to track include:", "Good measures to start with are:"),
        ),
        Facet(
            name="costs",
            headings=("Budgeting for {Kw}", "Time, Money and {Kw}", "The Costs and Trade-offs of {Kw}"),
            leads=(
                "Every approach to {kw} has costs, and not all of them show up on a receipt.",
                "Before committing to {kw}, it helps to be honest about the time and money involved.",
                "The real cost of {kw} is usually time rather than money.",
            ),
            points=("Count the hidden costs", "Set a realistic budget", "Spend where it makes a difference",
                    "Weigh the trade-offs of {kw}"),
            sentences=(
                "Set a budget before you start and review it after {time}.",
                "The cheapest option is not always the least expensive once you count the time it takes.",
                "Spend money where it saves you the most effort, and keep everything else simple.",
                "It is worth asking what you will stop doing to make room for this.",
                "Hidden costs tend to come from maintenance, so factor that in from the beginning.",
                "A small upfront investment in {resource} can save a surprising amount later.",
                "If the costs start to outweigh the benefits, scale back rather than quit entirely.",
            ),
            key_point="Being honest about the time and money {kw} takes prevents disappointment later.",
        ),
        Facet(
            name="examples",
            headings=("Examples of {Kw} Done Well", "Real-World Examples of {Kw}", "Lessons from {Kw} in Practice"),
            leads=(
                "Examples make {kw} much easier to understand than any definition.",
                "Looking at how others handle {kw} is one of the fastest ways to learn.",
                "The best examples of {kw} tend to share a few traits.",
            ),
            points=("Study a simple success story", "Notice what the best examples share",
                    "Adapt ideas to your situation", "Collect examples of {kw}"),
            sentences=(
                "Consider someone who started with a single goal and reviewed their results every {period}.",
                "Within {time}, they had a routine that felt natural rather than forced.",
                "The common thread in good examples is not talent but consistency.",
                "Notice how the strongest examples keep things simple and focus on a few priorities.",
                "Failed attempts are useful examples too, because they show which shortcuts do not work.",
                "When you find an example you like, ask what made it work rather than copying it exactly.",
                "Many {pros} can point to a moment when a small change made everything click.",
                "Keep a short list of examples you admire and revisit it when you feel stuck.",
            ),
            key_point="Real examples show how {kw} works in practice better than any definition.",
        ),
        Facet(
            name="advanced",
            headings=("Advanced Tips for {Kw}", "Taking {Kw} Further", "Going Beyond the Basics of {Kw}"),
            leads=(
                "Once the basics of {kw} feel comfortable, a few refinements can make a big difference.",
                "Advanced work on {kw} is mostly about doing the simple things with more care.",
                "The next level of {kw} comes from feedback, focus and a willingness to experiment.",
            ),
            points=("Refine what already works", "Experiment deliberately", "Learn from experts",
                    "Push {kw} a step further"),
            sentences=(
                "Experiment with one variable at a time, and keep notes on what changes.",
                "Look for the step that causes the most friction and find a way to remove it.",
                "Learning from {pros} can shorten years of trial and error into a few conversations.",
                "Automate or template anything you find yourself repeating every {period}.",
                "Revisit your assumptions from time to time, because what worked early on may no longer fit.",
                "Teaching someone else is one of the best ways to deepen your own understanding.",
                "At this stage, {concept} often matters more than any new technique.",
                "Advanced does not mean complicated; the best refinements usually simplify things.",
            ),
            key_point="Advanced progress with {kw} comes from refining the basics rather than adding complexity.",
        ),
        Facet(
            name="planning",
            headings=("Planning Your Approach to {Kw}", "Setting Goals for {Kw}", "Creating a Plan for {Kw}"),
            leads=(
                "A little planning turns {kw} from good intentions into steady progress.",
                "The most effective plans for {kw} are short, specific and easy to review.",
                "Before diving in, take a moment to decide what you want {kw} to achieve.",
            ),
            points=("Set one specific goal", "Break the goal into milestones", "Schedule regular reviews",
                    "Write down your plan for {kw}"),
            sentences=(
                "Write your goal in one sentence, then list the first three actions that move you toward it.",
                "A plan that fits on a single page is far more likely to be followed than a long document.",
                "Set milestones you can reach within {time}, so progress stays visible.",
                "Leave room in the plan for things to go wrong, because something always does.",
                "Decide in advance how you will know the plan is working, such as a change in {metric}.",
                "Share the plan with someone who will ask how it is going.",
                "Plans should change as you learn, so date each version and keep the old ones.",
            ),
            key_point="A short, specific plan makes {kw} far easier to stick with.",
        ),
        Facet(
            name="longterm",
            headings=("Keeping {Kw} Sustainable", "Making {Kw} Last", "Maintaining Momentum with {Kw}"),
            leads=(
                "The real challenge with {kw} is not starting but keeping going.",
                "Sustainable progress with {kw} depends on habits more than motivation.",
                "Long-term success with {kw} comes from a pace you can keep up for months, not days.",
            ),
            points=("Build habits instead of relying on motivation", "Plan for setbacks", "Celebrate small wins",
                    "Keep {kw} enjoyable"),
            sentences=(
                "Motivation comes and goes, so build routines that work even on low-energy days.",
                "Expect setbacks, and decide in advance how you will get back on track.",
                "Celebrate small wins; they keep you going when bigger goals feel far away.",
                "If you miss a day, do not try to make up for it; simply return to the routine.",
                "Every {period}, ask whether the routine still fits your life and adjust it if not.",
                "Keeping things enjoyable is not a luxury, because it is what makes them last.",
                "The people who succeed over years are rarely the most intense, just the most consistent.",
            ),
            key_point="Sustainable habits, not bursts of motivation, keep {kw} going over the long term.",
        ),
        Facet(
            name="choosing",
            headings=("Comparing Your Options for {Kw}", "How to Choose the Right Approach to {Kw}",
                      "Questions to Ask Before Committing to {Kw}"),
            leads=(
                "There are plenty of options for {kw}, and the right choice depends on your situation.",
                "Choosing an approach to {kw} is easier once you know what matters most to you.",
                "Comparing options for {kw} side by side quickly reveals which ones fit your needs.",
            ),
            points=("List what matters most", "Compare a short list side by side", "Try before you commit",
                    "Match {kw} to your situation"),
            sentences=(
                "Start by listing the three things that matter most to you, in order.",
                "Narrow the field to two or three options before comparing details.",
                "Read reviews for patterns rather than single opinions, good or bad.",
                "Where possible, try an option for {time} before making a long commitment.",
                "The most popular choice is not always the right one for your circumstances.",
                "Consider how each option will look in a year, not just how it looks today.",
                "Ask {pros} which option they would choose again, and why.",
            ),
            key_point="Choosing the right approach to {kw} starts with knowing what matters most to you.",
        ),
    )
}

# Section order per angle: a how-to starts from the basics, a comparison from the choice itself.
FACET_ORDER: dict[str, tuple[str, ...]] = {
    "how_to": ("basics", "getting_started", "planning", "process", "tools", "mistakes", "measuring", "advanced",
               "longterm", "costs", "examples", "choosing", "benefits"),
    "list": ("benefits", "getting_started", "tools", "process", "examples", "mistakes", "advanced", "measuring",
             "longterm", "costs", "planning", "basics", "choosing"),
    "comparison": ("choosing", "costs", "tools", "examples", "mistakes", "benefits", "basics", "measuring",
                   "getting_started", "process", "advanced", "planning", "longterm"),
    "explainer": ("basics", "benefits", "examples", "getting_started", "mistakes", "process", "measuring", "tools",
                  "advanced", "planning", "costs", "longterm", "choosing"),
    "overview": ("basics", "benefits", "getting_started", "process", "tools", "mistakes", "measuring", "examples",
                 "advanced", "planning", "costs", "longterm", "choosing"),
}

STEP_ITEMS: tuple[str, ...] = (
    "Decide what a good result looks like for {kw}.",
    "Gather {resource} and anything else you need.",
    "Try a small, low-risk version first.",
    "Review {metric} after {time}.",
    "Keep what works and change one thing at a time.",
)
