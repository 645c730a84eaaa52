"""The offline reply quotes the passages that answer, in the article's own Markdown, briefly,
then links to the whole article."""

import json
import re

import pytest

from chat.bot.quality import check
from chat.bot.responder import (
    MAX_QUOTE_WORDS,
    NO_ARTICLE_REPLY,
    best_passages,
    compose,
    definitions,
    passages,
    word_count,
)
from chat.bot.retrieval import ArticleDoc
from knowledge.markdown import render_markdown

from .conftest import ARTICLES

FERRY = ArticleDoc(41, "Ferry fares & timetables", (
    "## Fares\n\n"
    "Tickets are sold at the harbour kiosk and online.\n\n"
    "| route | crossing time | adult fare |\n"
    "| --- | --- | --- |\n"
    "| Harbour to Gull Island | 40 minutes | $8.50 |\n"
    "| Harbour to Pine Point | 1 hour 10 minutes | $12.00, children free |\n"
    "| Gull Island to Pine Point | 25 minutes | $6.25 |\n\n"
    "## Discounts\n\n"
    "Use the code `ISLAND_HOPPER_10` at checkout for 10% off a return ticket. Terms: "
    "[fare rules](https://ferries.example/fare_rules/island_hopper?ref=chat_bot).\n\n"
    "## Bikes & pets\n\n"
    "Bikes travel for **$2.00** each; pets on a lead travel free. Q&amp;A sessions run on "
    "deck every Sunday.\n"
))
CAMPSITE = ArticleDoc(42, "Checking in at the campsite", (
    "When you arrive:\n\n"
    "1. Park in the visitor bays by the gate.\n"
    "2. Show your booking e-mail at the ranger hut, open 8:00-19:00.\n"
    "3. Collect your pitch tag and hang it on the post.\n\n"
    "## Late arrivals\n\n"
    "After 19:00 the gate code is in your booking e-mail; the ranger checks tags at 8:30.\n"
))
LONG_TABLE = ArticleDoc(43, "Locker sizes", (
    "Every locker we rent:\n\n"
    "| locker | size in cm | price per day |\n| --- | --- | --- |\n"
    + "".join(f"| Locker {n} standard model | {30 + n} by 40 by 50 | ${n}.00 |\n"
              for n in range(1, 30))
    + "| Kayak locker | 400 by 80 by 60 | $15.00 |\n"
))


def reply_for(question, article, intent_name="Question"):
    return compose(text=question, intent_name=intent_name, articles=[article], details={})


def quote_of(reply):
    """The quote between the opener and the link line."""
    body = reply.split("\n\n", 1)[1]
    return body.rsplit("\n\n", 1)[0]


def test_compose_uses_the_best_article_and_names_it():
    reply = compose(text="how long will my refund take", intent_name="Return or refund",
                    articles=[ARTICLES[1]], details={})
    assert '"Returns and refunds"' in reply
    assert "help article" in reply
    assert "5 to 10 business days" in reply


def test_compose_confirms_the_detail_just_given():
    reply = compose(text="it's 55102", intent_name="Order status", articles=[ARTICLES[0]],
                    details={"order_number": "55102"}, acknowledge="order_number")
    assert reply.startswith("Thanks, I have your order number 55102.")


def test_compose_asks_the_question_when_a_detail_is_missing():
    assert compose(text="where is it", intent_name="Order status", articles=[ARTICLES[0]],
                   details={}, question="What is your order number?") == (
        "What is your order number?"
    )


def test_compose_without_articles_offers_a_person():
    assert compose(text="?", intent_name="x", articles=[], details={}) == NO_ARTICLE_REPLY


@pytest.mark.parametrize("article", [*ARTICLES, FERRY, CAMPSITE, LONG_TABLE])
def test_the_reply_ends_with_a_link_to_the_public_article_page_and_asks_nothing(article):
    reply = reply_for("tell me more", article)
    last = reply.rsplit("\n\n", 1)[1]
    assert re.fullmatch(rf"\[Read the whole article\]\(/help/articles/{article.id}-[a-z0-9-]+/\)",
                        last)
    assert "Does that answer" not in reply and "?" not in reply.split("says:")[1]


def test_a_table_that_answers_is_quoted_whole_with_its_header_and_delimiter_rows():
    quote = quote_of(reply_for("how much is the fare and crossing time to pine point", FERRY))
    assert (
        "| route | crossing time | adult fare |\n| --- | --- | --- |\n"
        "| Harbour to Gull Island | 40 minutes | $8.50 |\n"
        "| Harbour to Pine Point | 1 hour 10 minutes | $12.00, children free |\n"
        "| Gull Island to Pine Point | 25 minutes | $6.25 |"
    ) in quote
    html = render_markdown(quote)
    assert "<table>" in html and "<th>adult fare</th>" in html
    assert "<td>$12.00, children free</td>" in html


def test_a_big_table_is_cut_to_the_rows_that_match_keeping_its_header():
    quote = quote_of(reply_for("what does the kayak locker cost per day", LONG_TABLE))
    assert word_count(quote) <= MAX_QUOTE_WORDS
    assert "| locker | size in cm | price per day |\n| --- | --- | --- |" in quote
    assert "| Kayak locker | 400 by 80 by 60 | $15.00 |" in quote
    assert "Locker 7 standard" not in quote
    assert "<td>Kayak locker</td>" in render_markdown(quote)


def test_a_big_table_that_matches_nothing_keeps_its_first_rows_within_the_limit():
    quote = quote_of(reply_for("lockers", LONG_TABLE))
    assert word_count(quote) <= MAX_QUOTE_WORDS
    assert "| Locker 1 standard model |" in quote
    assert quote.count("\n| Locker") >= 3


@pytest.mark.parametrize("question", [
    "is there a discount code for a return ticket", "promo code for checkout",
    "fare rules for the island hopper discount",
])
def test_code_spans_and_links_with_underscores_are_kept(question):
    reply = reply_for(question, FERRY)
    assert "`ISLAND_HOPPER_10`" in reply
    assert "(https://ferries.example/fare_rules/island_hopper?ref=chat_bot)" in reply
    html = render_markdown(reply)
    assert "<code>ISLAND_HOPPER_10</code>" in html
    assert 'href="https://ferries.example/fare_rules/island_hopper?ref=chat_bot"' in html
    report = check(reply, sources=[FERRY.title, FERRY.body], customer_texts=[question],
                   max_chars=1200)
    assert report.ok, report.problems


def test_bold_and_entities_are_kept_as_written():
    reply = reply_for("can I bring my bike and my dog", FERRY)
    assert "**$2.00**" in reply and "Q&amp;A" in reply
    html = render_markdown(reply)
    assert "<strong>$2.00</strong>" in html and "Q&amp;A" in html and "&amp;amp;" not in html


def test_a_numbered_list_stays_whole_with_its_lead_in():
    quote = quote_of(reply_for("what do I do when I arrive at the gate", CAMPSITE))
    assert quote.startswith("When you arrive:\n\n1. Park in the visitor bays by the gate.\n"
                            "2. Show your booking e-mail at the ranger hut, open 8:00-19:00.\n"
                            "3. Collect your pitch tag")
    html = render_markdown(quote)
    assert html.count("<li>") == 3 and "<ol>" in html


def test_a_list_with_wrapped_items_keeps_one_item_a_line():
    doc = ArticleDoc(9, "Packing", (
        "Bring these:\n\n- A warm layer for the\n  evening breeze.\n- Two litres of\n  water.\n"
    ))
    [passage] = passages(doc.body)
    assert passage.markdown == (
        "Bring these:\n\n- A warm layer for the evening breeze.\n- Two litres of water."
    )


def test_a_long_list_is_cut_after_a_whole_item():
    items = "\n".join(f"- Status {n}: the parcel is at checkpoint number {n} on its way."
                      for n in range(20))
    doc = ArticleDoc(9, "Statuses", f"Every status of a parcel:\n\n{items}")
    quote = best_passages(doc, "what does a parcel status mean")
    assert word_count(quote) <= MAX_QUOTE_WORDS
    assert quote.endswith("on its way. …")
    assert quote.startswith("Every status of a parcel:\n\n- Status 0:")
    assert quote.count("\n- Status") >= 5


def test_a_long_paragraph_is_cut_at_a_sentence_and_never_inside_markup():
    sentences = " ".join(
        f"Sentence {n} explains the **rule number {n}** with `CODE_{n}` and more words here."
        for n in range(40)
    )
    doc = ArticleDoc(9, "Rules", sentences)
    quote = best_passages(doc, "explain the rules")
    assert word_count(quote) <= MAX_QUOTE_WORDS
    assert quote.endswith("more words here.")
    assert quote.count("**") % 2 == 0 and quote.count("`") % 2 == 0


@pytest.mark.parametrize("question,expected", [
    ("tracking has not changed for days, delays", "5 business days"),
    ("track my parcel online", "https://shop.example/track"),
])
def test_the_matching_section_is_chosen_and_headings_are_not_quoted(question, expected):
    text = best_passages(ARTICLES[0], question)
    assert expected in text
    assert "##" not in text


def test_two_passages_at_most_in_article_order():
    quote = best_passages(FERRY, "fares for bikes and pets, and the discount code")
    assert 1 <= len([p for p in quote.split("\n\n") if p]) <= 3  # a table and a paragraph
    positions = [FERRY.body.index(part.splitlines()[0]) for part in quote.split("\n\n")]
    assert positions == sorted(positions)


def test_a_misspelt_question_still_finds_its_passage():
    assert "kiosk" not in best_passages(FERRY, "bikez and pettts")
    assert "**$2.00**" in best_passages(FERRY, "bicycles and pets on the ferrry")


def test_every_quote_of_the_demo_articles_is_short_and_grounded():
    from supportdesk.management.commands.load_demo import DEMO_KNOWLEDGE

    DEMO = json.loads(DEMO_KNOWLEDGE.read_text(encoding="utf-8"))["articles"]

    questions = ["how much does it cost", "how long does it take", "what are the steps",
                 "tell me everything", "is there a code or a link"]
    for n, data in enumerate(DEMO):
        doc = ArticleDoc(n + 1, data["title"], data["body"], tuple(data["intents"]))
        for question in questions:
            reply = reply_for(question, doc)
            assert word_count(quote_of(reply)) <= MAX_QUOTE_WORDS, (doc.title, question)
            report = check(reply, sources=[doc.title, doc.body], customer_texts=[question],
                           max_chars=1200)
            assert report.ok, (doc.title, question, report.problems, reply)


def test_compose_respects_the_length_limit():
    for limit in (200, 400, 80):
        reply = compose(text="fares", intent_name="Fares", articles=[FERRY], details={},
                        max_chars=limit)
        assert len(reply) <= limit


LIBRARY = ArticleDoc(44, "Library branches and opening hours", (
    "Borrow books, use a computer or join a reading group at any branch.\n\n"
    "| branch | opening hours |\n| --- | --- |\n| Riverside | Tue-Sat 9:00-18:00 |\n"
    "| Old Town | Mon-Fri 10:00-19:00 |\n\n"
    "## Branch services\n\n- Printing at every branch\n- Quiet rooms to book for 2 hours\n"
))
RAINCOAT = ArticleDoc(45, "Drizzle Rain Jacket: sizing and care", (
    "The Drizzle Rain Jacket is a light jacket for wet walks.\n\n"
    "## Sizing\n\nIt runs small: order one size up if you wear a fleece under it.\n\n"
    "## Care\n\nWash cold and hang it to dry.\n"
))
TENT = ArticleDoc(46, "Breeze 2 Tent: specs and care", (
    "The Breeze 2 Tent is a light tent for two.\n\n"
    "## Specs\n\n- Weight: 1.9 kg\n- Flysheet: 2,000 mm waterproof\n\n"
    "## Care\n\nDry the tent before you pack it away.\n"
))


@pytest.mark.parametrize("article,question,expected,not_expected", [
    (LIBRARY, "what are the branch opening hours", "| Riverside | Tue-Sat 9:00-18:00 |",
     "Borrow books"),
    (RAINCOAT, "what size drizzle rain jacket should I get", "order one size up", "Wash cold"),
    (RAINCOAT, "how do I wash the rain jacket", "Wash cold", "runs small"),
    (TENT, "is the breeze tent waterprof", "2,000 mm waterproof", "Dry the tent"),
])
def test_the_passage_on_the_asked_topic_wins_over_the_one_naming_the_article(
    article, question, expected, not_expected
):
    quote = best_passages(article, question)
    assert expected in quote
    assert not_expected not in quote


def test_a_list_or_table_without_a_lead_in_is_led_by_its_heading_in_bold():
    quote = best_passages(TENT, "how much does the tent weigh, waterproof rating")
    assert "**Specs**\n\n- Weight: 1.9 kg\n- Flysheet: 2,000 mm waterproof" in quote


def test_a_table_without_outer_pipes_is_still_one_table():
    doc = ArticleDoc(47, "Bike hire", (
        "Prices for a day:\n\nbike | price\n--- | ---\nCity bike | $12\nE-bike | $30\n"
    ))
    quote = best_passages(doc, "how much is an e-bike for a day")
    html = render_markdown(quote)
    assert "<table>" in html and "<td>E-bike</td>" in html and "<td>$30</td>" in html


LOCKERS = ArticleDoc(43, "Locker sizes and what the lights mean", (
    "Each locker has a light above its door:\n\n"
    "- **Green**: free, tap your card to open it.\n"
    "- **Amber**: booked by someone for the next\n"
    "  hour; it opens for them alone.\n"
    "- **Red**: out of order. Use another one and tell the front desk.\n\n"
    "## Sizes\n\n"
    "| size | fits |\n"
    "| --- | --- |\n"
    "| **Small** | a daypack |\n"
    "| **Large** | a 70-litre pack or a folded pushchair |\n\n"
    "**Overnight**: lockers not emptied by midnight are opened by staff.\n"
))


@pytest.mark.parametrize("terms, kept, left", [
    (["amber"], ["Each locker has a light above its door:", "**Amber**: booked by someone",
                 "it opens for them alone."], ["**Green**", "**Red**", "| size"]),
    (["green", "red"], ["**Green**", "**Red**"], ["**Amber**", "**Small**"]),
    (["large"], ["| size | fits |", "| --- | --- |", "| **Large** | a 70-litre"],
     ["**Small**", "**Green**"]),
    (["overnight"], ["**Overnight**: lockers not emptied"], ["**Green**", "| size"]),
])
def test_a_definition_question_quotes_the_lines_defining_its_terms(terms, kept, left):
    quote = definitions(LOCKERS, terms)
    for text in kept:
        assert text in quote
    for text in left:
        assert text not in quote


def test_terms_the_article_does_not_define_quote_nothing_and_compose_falls_back():
    assert definitions(LOCKERS, ["blue"]) == ""
    assert definitions(LOCKERS, []) == ""
    reply = compose(text="what does blue mean?", intent_name="Lockers", articles=[LOCKERS],
                    details={}, terms=["blue"])
    assert "**Green**" in reply and "**Red**" in reply  # the list, as for any question


def test_compose_quotes_only_the_asked_definition_then_links_the_article():
    reply = compose(text="what does amber mean", intent_name="Lockers", articles=[LOCKERS],
                    details={}, terms=["amber"])
    assert reply.startswith('Here\'s what our help article "Locker sizes and what the lights')
    assert "- **Amber**: booked by someone for the next hour; it opens for them alone." in reply
    assert "**Green**" not in reply and "**Red**" not in reply
    assert reply.rstrip().endswith(")") and "Read the whole article" in reply
    assert check(reply, sources=[LOCKERS.title, LOCKERS.body], customer_texts=[],
                 max_chars=1200).ok


def test_every_definition_of_a_long_list_is_quoted_when_the_reply_fits_else_it_is_cut():
    shades = ArticleDoc(44, "Paint shades", "We mix these shades:\n\n" + "\n".join(
        f"- **Shade {n}**: a colour mixed from batch {n} with {n} drops of white tint, "
        "matched under daylight lamps." for n in range(1, 13)))
    terms = [f"shade {n}" for n in range(1, 13)]
    assert word_count(definitions(shades, terms)) > MAX_QUOTE_WORDS  # longer than any quote
    whole = compose(text="what do the shades mean?", intent_name="Paint", articles=[shades],
                    details={}, terms=terms, max_chars=2000)
    assert all(f"**Shade {n}**:" in whole for n in range(1, 13))
    short = compose(text="what do the shades mean?", intent_name="Paint", articles=[shades],
                    details={}, terms=terms, max_chars=900)
    assert len(short) <= 900 and "**Shade 1**:" in short and "**Shade 12**:" not in short


# What a question asks for (a duration, an amount) picks the passage that gives it, though it
# shares no word with the question; a second passage is quoted only when it adds a word of the
# question, or ties with the first on the question's own words.
BAKERY = ArticleDoc(60, "Cake orders", (
    "We bake every cake to order in our kitchen on Mill Street.\n\n"
    "| cake | ready in | price |\n| --- | --- | --- |\n"
    "| Sponge | 2 days | £18 |\n| Wedding tier | 3 weeks | £95 a tier |\n"
    "| Cupcakes (12) | 24 hours | £21 |\n\n"
    "## Collecting\n\n"
    "Collect your cake from the counter with your order e-mail. Cakes leave the kitchen "
    "chilled.\n\n"
    "## Allergies\n\n"
    "Tell us about allergies when you order; our kitchen handles nuts.\n"
))
GYM = ArticleDoc(61, "Memberships and cancelling", (
    "## Cancelling\n\n"
    "You may cancel within 14 days of joining for a full refund.\n\n"
    "## Freezing\n\n"
    "Freeze your membership for up to 3 months a year; cancelling is then paused too.\n\n"
    "## Refunds\n\n"
    "Refunds go back to the card you paid with; cancelling after 14 days refunds nothing.\n"
))


@pytest.mark.parametrize("question,expected,not_expected", [
    ("how long do cakes take to bake?", "| Sponge | 2 days |", "nuts"),
    ("how soon can I get cupcakes", "24 hours", "Mill Street"),
    ("how much is a wedding cake", "£95 a tier", "Mill Street"),
    ("what does a sponge cost", "£18", "nuts"),
])
def test_a_question_for_a_duration_or_an_amount_quotes_the_passage_that_gives_it(
    question, expected, not_expected
):
    quote = best_passages(BAKERY, question)
    assert expected in quote
    assert not_expected not in quote


@pytest.mark.parametrize("question,topic", [
    ("what is the cancellation window?", ""),
    ("how long do I have to cancel", "Memberships"),
])
def test_a_window_or_deadline_is_asked_as_a_duration(question, topic):
    quote = best_passages(GYM, question, topic=topic)
    assert "within 14 days of joining" in quote


def test_a_second_passage_that_repeats_the_first_ones_words_is_left_out():
    # Every passage says "cancel"; the first answers, the others add no word of the question.
    quote = best_passages(GYM, "can I cancel and get a full refund after joining?")
    assert "within 14 days of joining for a full refund" in quote
    assert "Freeze" not in quote


def test_the_intents_name_only_breaks_ties():
    # "refund" is only in the topic: it must not pull in the refunds section over the one the
    # question's own words ("freeze", "months") point to.
    quote = best_passages(GYM, "can I freeze for two months?", topic="Cancel and refund")
    assert "up to 3 months" in quote
    assert "back to the card" not in quote


@pytest.mark.parametrize("word,stem", [
    ("shipping", "ship"), ("ships", "ship"), ("stopped", "stop"), ("billing", "bill"),
    ("dressed", "dress"), ("returned", "return"), ("packing", "pack"),
])
def test_a_doubled_consonant_is_undoubled_before_ing_and_ed(word, stem):
    from chat.bot.responder import _stem

    assert _stem(word) == stem


MARINA = ArticleDoc(44, "Reaching the marina office", (
    "## Ways to reach us\n\n"
    "- **Radio**: channel 9 while the office is staffed.\n"
    "- **Telephone**: +44 20 7946 0958\n"
    "- **Mail**: office@marina.example, read twice a day\n\n"
    "## When we reply\n\n"
    "Write to us by mail or leave a note in the box and we reply within a day.\n\n"
    "## Street address\n\n"
    "Marina Office, 4 Quay Road, Harbourside, HS1 2AB\n"
))


@pytest.mark.parametrize(("question", "gives"), [
    ("how do I contact the office by e-mail?", "office@marina.example"),
    ("what is your email address", "office@marina.example"),
    ("can I send you an email", "office@marina.example"),
    ("what's your phone number", "+44 20 7946 0958"),
    ("can I reach you by phone?", "+44 20 7946 0958"),
    ("is there a number I can call", "+44 20 7946 0958"),
])
def test_a_question_for_an_address_or_number_is_answered_by_the_passage_that_gives_it(
    question, gives
):
    assert gives in best_passages(MARINA, question)


@pytest.mark.parametrize("question", [
    "I never got the confirmation e-mail", "my phone broke", "the e-mail you sent was empty",
])
def test_a_message_that_only_mentions_e_mail_or_a_phone_asks_for_neither(question):
    from chat.bot.responder import asked_for

    assert asked_for(question) is None
