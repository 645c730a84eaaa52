from chat.bot.responder import NO_ARTICLE_REPLY, best_passages, compose

from .conftest import ARTICLES


def test_compose_uses_the_best_article_and_names_it():
    reply = compose(text="how long will my refund take", intent_name="Return or refund",
                    articles=[ARTICLES[1]], details={})
    assert '"Returns and refunds"' in reply
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


def test_best_passages_pick_the_matching_section():
    text = best_passages(ARTICLES[0], "tracking has not changed for days, delays")
    assert "5 business days" in text
    assert "##" not in text


def test_compose_respects_the_length_limit():
    assert len(compose(text="refund", intent_name="Refund", articles=[ARTICLES[1]], details={},
                       max_chars=80)) <= 80


def test_a_list_of_steps_stays_whole():
    from chat.bot.retrieval import ArticleDoc

    doc = ArticleDoc(9, "Returning an item", (
        "## Start a return\n\n1. Open your orders page.\n2. Choose the item and a reason.\n"
        "3. Print the label.\n\n## Refunds\n\nRefunds take a week."
    ))
    text = best_passages(doc, "how do I start a return and print the label")
    assert "1. Open your orders page.\n2. Choose the item and a reason.\n3. Print the label." in (
        text
    )


def test_a_paragraph_ending_in_a_colon_is_quoted_with_its_list():
    from chat.bot.retrieval import ArticleDoc

    doc = ArticleDoc(9, "Delivery options", (
        "Pick the speed that suits you at checkout:\n\n- Ground: five days.\n- Air: two days.\n\n"
        "## Fees\n\nFees are shown before you pay:\n\nNothing else is charged."
    ))
    text = best_passages(doc, "which delivery speed can I pick at checkout")
    assert text.startswith("Pick the speed that suits you at checkout:\n- Ground: five days.\n")
    assert "- Air: two days." in text
    # A heading or a paragraph, not a list, follows the other colon: it stays a paragraph.
    from chat.bot.responder import _passages

    assert _passages(doc.body)[1:] == ["Fees are shown before you pay:", "Nothing else is charged."]


def test_a_long_best_list_is_cut_after_a_whole_item():
    from chat.bot.retrieval import ArticleDoc

    items = "\n".join(f"- Status {n}: the parcel is at checkpoint number {n} on its way." for n in
                      range(20))
    doc = ArticleDoc(9, "Statuses", f"Every status of a parcel:\n\n{items}")
    text = best_passages(doc, "what does a parcel status mean", limit_chars=300)
    assert text.endswith("on its way.…")
    assert len(text) <= 451
    assert text.count("\n- Status") >= 5  # more than the 300-character limit alone would hold
