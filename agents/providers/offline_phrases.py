"""Sentence templates the offline writer uses in any section, plus intros, conclusions and reader questions.

Slots follow the grammar described in `offline_facets`; `{phrase}` is a keyword quoted verbatim.
"""

from __future__ import annotations

GENERAL_SENTENCES: tuple[str, ...] = (
    "Small, consistent steps with {kw} usually beat one big push that fades after a few weeks.",
    "It helps to write down what you expect from {kw} before you start, so you can check it later.",
    "{audience} often find that {concept} makes the biggest difference early on.",
    "A good rule of thumb is to change one thing at a time and watch what happens to {metric}.",
    "If something feels too complicated, it probably is, and a simpler version will serve you better.",
    "Keep {resource} close at hand, because it turns good intentions into a routine you can repeat.",
    "The aim is not perfection but steady progress you can see in {metric}.",
    "Many {pros} say the turning point came when they stopped {pitfall}.",
    "Progress with {kw} tends to compound, so the first few weeks matter more than they seem.",
    "Set aside {time} to try this properly before you judge the results.",
    "Treat your first attempt as an experiment rather than a final decision.",
    "Over time, {concept} becomes less of a chore and more of a habit.",
    "Once the basics are in place, it becomes much easier to {benefit}.",
    "The payoff is practical: you will {benefit} and feel more in control of {ref}.",
    "Good habits around {kw} are easier to keep when they fit into what you already do.",
    "Pay attention to what slows you down, because that is usually where the next improvement is hiding.",
    "Review {ref} every {period} and drop anything that no longer earns its place.",
    "There is no single right way to approach {kw}, but there are a few reliable patterns worth knowing.",
    "Talking to other {pros} is one of the fastest ways to learn what actually works.",
    "Write down what worked and what did not, since those notes become more valuable every {period}.",
    "When in doubt, favor the option that is easiest to undo.",
    "A little structure goes a long way, as long as it stays flexible enough to adapt.",
    "The most common reason people give up on {kw} is that they expect results too quickly.",
    "Measure before and after any change, even roughly, so you know whether it helped.",
    "Most of the value comes from a handful of simple practices done well.",
    "Sharing your plan with someone else adds a gentle kind of accountability.",
    "A clear goal turns {kw} from a vague intention into something you can plan around.",
    "Even a rough plan for {kw} is better than none, because it gives you something to improve.",
    "The details will change as you learn, and that is perfectly normal.",
    "Look for quick wins first, since they build the confidence you need for the harder parts.",
    "You do not need expensive tools to get started, just a clear idea of what you want.",
    "Keep {ref} simple enough that you could explain it to a friend in a minute.",
    "Think of {kw} as a skill that improves with practice rather than a box to tick.",
    "When results stall, go back to the basics before adding anything new.",
    "It is easy to overlook {concept}, yet it often explains why some efforts succeed and others do not.",
    "Keep an eye on {metric}, because it tells you more than any opinion will.",
    "Related ideas such as {term} are worth a look once the basics feel comfortable.",
    "You will also come across {term}, which connects closely to everything covered here.",
    "For {audience}, the simplest version of {kw} is usually the one that lasts.",
    "Your situation is unique, so borrow ideas freely but adapt them to fit.",
    "A few minutes of preparation can save hours of rework.",
    "Notice which parts you enjoy, because those are the parts you will keep doing.",
    "Set a reminder to check in on {ref} after {time}.",
    "The gap between knowing and doing is where most plans fall apart, so keep the next step small.",
    "If you only have a little time, spend it on the step with the biggest effect on {metric}.",
    "Getting {kw} right is less about talent and more about showing up regularly.",
)

# Openers that may precede a template starting with a plain word; they add variety and tune length.
OPENERS: tuple[str, ...] = (
    "In practice,", "In our experience,", "As a rule,", "Most of the time,", "Put simply,", "Just as important,",
    "On top of that,", "For most people,", "Above all,", "Realistically,", "With that in mind,",
    "Over the long run,", "At the same time,", "Better still,", "That said,", "In many cases,", "Equally,",
)

# Openers that suit an instruction ("Where possible, start small.").
IMPERATIVE_OPENERS: tuple[str, ...] = (
    "In practice,", "Above all,", "Where possible,", "If you can,", "Whenever you can,", "As a rule,", "First,",
    "From the start,", "Above everything else,",
)
IMPERATIVE_VERBS = frozenset(
    "ask start set keep write pick choose review look give gather expect record check pair treat measure pay share "
    "notice consider decide leave celebrate experiment automate revisit read narrow spend be learn try avoid watch "
    "begin think talk focus count weigh study adapt collect match compare define plan make come turn remember use go "
    "do put stop take find get let add save remove fix note resist favor".split()
)

# First words of sentences that open with their own adverbial clause, which an opener would stack on.
CLAUSE_STARTS = frozenset("if when once before after while whether over at for in even where below along by with done "
                          "as on within whenever".split())

# Stand-ins for the subject once a keyword has been used as often as its density allows.
GENERIC_REFS: tuple[str, ...] = ("your approach", "the process", "this kind of work", "the whole effort", "your plan")
PERIODS: tuple[str, ...] = ("week", "few weeks", "month", "quarter")

INTRO_HEADINGS: tuple[str, ...] = ("The Case for {Topic}", "An Introduction to {Topic}", "A First Look at {Topic}",
                                   "{Topic} at a Glance")
CONCLUSION_HEADINGS: tuple[str, ...] = ("Final Thoughts on {Topic}", "Putting It All Together", "Key Takeaways",
                                        "Where to Go from Here")

INTRO_LEADS: tuple[str, ...] = (
    "{kw} can feel overwhelming at first, but it becomes manageable once you break it into smaller pieces.",
    "If you have ever wondered where to start with {kw}, you are not alone.",
    "This guide walks through {kw} step by step, with practical advice you can use right away.",
    "Whether you are just getting started or looking to sharpen your approach, a clear plan for {kw} makes a real "
    "difference.",
)
INTRO_SENTENCES: tuple[str, ...] = (
    "{audience} ask about {kw} more than almost anything else, and for good reason.",
    "Below, you will find what matters most, what to avoid, and how to measure your progress.",
    "The good news is that you do not need to be an expert to get real value from {kw}.",
    "We wrote this guide for {audience} who want clear answers rather than jargon.",
    "Each section focuses on one part of the picture, so feel free to jump to the one you need.",
    "By the end, you will have a simple plan you can start on this week.",
    "Along the way, we will look at the mistakes that trip most people up.",
)
SITE_SENTENCES: tuple[str, ...] = (
    "At {site}, this is one of the topics readers ask us about most often.",
    "You will find more practical guides like this one on {site}.",
)
CONCLUSION_LEADS: tuple[str, ...] = (
    "{kw} rewards patience, and the steps above give you a solid place to start.",
    "Getting better at {kw} is a gradual process, and every small step counts.",
    "The ideas in this guide are simple, but applied consistently they change how you approach {kw}.",
)
CONCLUSION_SENTENCES: tuple[str, ...] = (
    "Pick one idea from this guide and put it into practice this week.",
    "The most important step is the first one, so choose something small and begin.",
    "Come back to this guide whenever you need a refresher, and adjust the plan as you learn.",
    "With a clear goal, a simple routine and an eye on {metric}, you will be well on your way.",
    "None of this needs to happen overnight, and steady progress is what counts.",
    "If you remember only one thing, let it be this: start simple and build from there.",
    "Over time, these small habits add up to real results.",
)

# How a search phrase ("best running shoes") appears verbatim without breaking the sentence.
PHRASE_MENTIONS: tuple[str, ...] = (
    "People searching for \"{phrase}\" usually want a clear, practical answer first.",
    "If you have typed \"{phrase}\" into a search bar, this part is for you.",
    "A common question is \"{phrase}\", and the honest answer depends on your goals.",
    "Searches like \"{phrase}\" show how many people are looking for straightforward guidance.",
)

# Verb-led keywords ("save money") after "to"; how-to keywords where an indirect question fits.
VERB_MENTIONS: tuple[str, ...] = (
    "If you want to {phrase}, start with one small change this week.",
    "It is much easier to {phrase} when you have a simple plan.",
    "Plenty of {audience} want to {phrase} without making life more complicated.",
    "The quickest way to {phrase} is usually the simplest one.",
)
HOW_TO_MENTIONS: tuple[str, ...] = (
    "Here is {phrase}, step by step.",
    "Knowing {phrase} saves a lot of trial and error.",
    "If you have ever wondered {phrase}, the next few paragraphs will help.",
    "Learning {phrase} is easier than it looks.",
)

# Several keywords in one sentence, for articles too short to give each its own; {kws} is "a, b and c".
COMBINED_MENTIONS: tuple[str, ...] = (
    "This is also where {kws} come into play.",
    "It helps to think about {kws} together.",
    "Along the way, {kws} all deserve a place in your plan.",
)

# Reader questions and the answers the offline provider gives to them in FAQ markup.
QUESTIONS: tuple[tuple[str, str], ...] = (
    ("What is {kw} and why does it matter?",
     "In short, {kw} covers the habits, decisions and tools that help {audience} {benefit}. It matters because "
     "small improvements add up quickly over time."),
    ("How do I get started with {kw}?",
     "Start small: pick one clear goal, gather {resource}, and try a simple version for {time}. Review what "
     "happened, keep what worked and adjust the rest."),
    ("What are the most common mistakes with {kw}?",
     "The most common mistakes are {pitfall} and {pitfall2}. Both are easy to avoid with a simple plan and "
     "regular reviews."),
    ("How long does it take to see results from {kw}?",
     "Most people notice a difference within {time} if they stay consistent. Bigger improvements usually take a "
     "few months of steady practice."),
    ("How much does {kw} cost?",
     "You can start with little or no budget. Most early gains come from better habits rather than expensive "
     "tools, so spend money only once you know what you need."),
    ("Which tools help with {kw}?",
     "You rarely need anything fancy. {resource} and {resource2} cover most needs when you are starting out."),
    ("How do I know if {kw} is working?",
     "Track {metric} before and after you make changes. If the trend moves in the right direction over {time}, "
     "you are on the right track."),
)

ANGLES: dict[str, str] = {
    "how_to": "A practical, step-by-step guide that takes {audience} from first steps to confident practice with "
              "{topic}.",
    "list": "A scannable list of proven ideas for {topic}, each with a concrete next step.",
    "comparison": "An honest comparison of the options for {topic}, with clear criteria for choosing between them.",
    "explainer": "A clear explanation of what {topic} involves, why it matters and how to apply it.",
    "overview": "A practical overview of {topic} that balances the essentials with advice you can act on.",
}
SUMMARIES: tuple[str, ...] = (
    "This piece gives {audience} a practical grounding in {topic}, from the core ideas to the habits that make "
    "them stick.",
    "A practical guide to {topic} for {audience}, focused on what works in real life rather than in theory.",
    "An accessible look at {topic} that helps {audience} {benefit} without wading through jargon.",
)

META_LEADS: tuple[str, ...] = (
    "Learn how to approach {topic} with practical, step-by-step advice for {audience}.",
    "A practical guide to {topic} for {audience}, from first steps to lasting results.",
    "Everything {audience} need to know about {topic}, explained in plain English.",
)
META_FILLERS: tuple[str, ...] = (
    "Includes common mistakes to avoid.",
    "Simple steps you can start today.",
    "With clear examples and a simple plan.",
    "Start today.",
    "Easy to follow.",
)
