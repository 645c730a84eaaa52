"""The language check: scripts, Latin-script foreign languages, messages with no known word."""

import pytest

from chat.bot.language import LanguageCheck, detect, names, reply, script_of
from chat.bot.text import normalize


def check(text, languages=("en",), vocabulary=frozenset()):
    return detect(normalize(text), languages=languages, vocabulary=vocabulary)


@pytest.mark.parametrize(
    ("text", "script", "language"),
    [
        ("\u0623\u064a\u0646 \u0637\u0644\u0628\u064a\u061f", "Arabic", "ar"),
        ("\u0645\u0631\u062d\u0628\u0627 \u0644\u062f\u064a \u0645\u0634\u0643\u0644\u0629",
         "Arabic", "ar"),
        ("\u6211\u7684\u5305\u88f9\u8fd8\u6ca1\u5230", "Han", "zh"),
        ("\u9000\u6b3e\u600e\u4e48\u529e", "Han", "zh"),
        ("\u8377\u7269\u304c\u5c4a\u304d\u307e\u305b\u3093", "Kana", "ja"),
        ("\u30ad\u30e3\u30f3\u30bb\u30eb\u3057\u305f\u3044", "Kana", "ja"),
        ("\ubc30\uc1a1\uc774 \ub2a6\uc5b4\uc694", "Hangul", "ko"),
        ("\u0413\u0434\u0435 \u043c\u043e\u044f \u043f\u043e\u0441\u044b\u043b\u043a\u0430?",
         "Cyrillic", "ru"),
        ("\u0425\u043e\u0447\u0443 \u0432\u0435\u0440\u043d\u0443\u0442\u044c "
         "\u0434\u0435\u043d\u044c\u0433\u0438", "Cyrillic", "ru"),
        ("\u03a0\u03bf\u03cd \u03b5\u03af\u03bd\u03b1\u03b9 \u03c4\u03bf "
         "\u03b4\u03ad\u03bc\u03b1 \u03bc\u03bf\u03c5;", "Greek", "el"),
        ("\u05d0\u05d9\u05e4\u05d4 \u05d4\u05d7\u05d1\u05d9\u05dc\u05d4 "
         "\u05e9\u05dc\u05d9", "Hebrew", "he"),
        ("\u092e\u0947\u0930\u093e \u092a\u093e\u0930\u094d\u0938\u0932 "
         "\u0915\u0939\u093e\u0901 \u0939\u0948", "Devanagari", "hi"),
        ("\u0e1e\u0e31\u0e2a\u0e14\u0e38\u0e02\u0e2d\u0e07\u0e09\u0e31\u0e19"
         "\u0e2d\u0e22\u0e39\u0e48\u0e17\u0e35\u0e48\u0e44\u0e2b\u0e19", "Thai", "th"),
        # an order number or a few Latin letters do not make it readable
        ("\u0637\u0644\u0628 \u0631\u0642\u0645 A-55102", "Arabic", "ar"),
        ("\u6211\u7684\u8ba2\u5355 55102 \u5728\u54ea\u91cc", "Han", "zh"),
    ],
)
def test_a_script_no_desk_language_is_written_in(text, script, language):
    found = check(text)
    assert (found.supported, found.reason, found.script, found.language) == (
        False, "script", script, language)


def test_a_script_is_readable_when_a_desk_language_is_written_in_it():
    assert check("\u0623\u064a\u0646 \u0637\u0644\u0628\u064a", ("en", "ar")).supported
    assert check("\u8377\u7269\u304c\u5c4a\u304d\u307e\u305b\u3093", ("ja",)).supported
    assert check("\u6211\u7684\u5305\u88f9", ("zh", "en")).supported
    # a desk that answers only in Arabic cannot read English
    assert not check("where is my order", ("ar",)).supported


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("\u00bfd\u00f3nde est\u00e1 mi pedido?", "es"),
        ("quiero devolver mis botas", "es"),
        ("necesito ayuda con mi cuenta por favor", "es"),
        ("o\u00f9 est ma commande", "fr"),
        ("je veux un remboursement pour mon sac", "fr"),
        ("bonjour, je n'arrive pas \u00e0 me connecter", "fr"),
        ("wo ist meine Bestellung", "de"),
        ("ich m\u00f6chte mein Geld zur\u00fcck", "de"),
        ("Mein Paket ist noch nicht angekommen", "de"),
        ("onde est\u00e1 o meu pedido", "pt"),
        ("quero cancelar a minha compra", "pt"),
        ("dov'\u00e8 il mio ordine", "it"),
        ("vorrei un rimborso per favore", "it"),
        ("waar is mijn bestelling", "nl"),
        ("hola", "es"),
        ("gracias", "es"),
        ("merci beaucoup", "fr"),
        ("hola, buenos días", "es"),
        ("siparişim nerede", "tr"),
        ("gdzie jest moje zamówienie", "pl"),
    ],
)
def test_latin_script_foreign_languages_detected_confidently(text, language):
    found = check(text)
    assert (found.supported, found.reason, found.language) == (False, "language", language)


@pytest.mark.parametrize(
    "text",
    [
        "where is my order", "can I return boots I wore once?", "refund pls",
        "wher is my ordr", "hw do i cancl my ordr plz", "my parcel never came!!",
        "I WANT MY MONEY BACK", "tell me a joke", "is the Peak 2 tent waterproof",
        "ok", "thanks", "yes please", "no", "hi there", "lol", "thx", "asap",
        "my email is jo.smith@example.com", "A-55102", "55102", "$49.99",
        "order 55102 from Madrid", "la la land", "I love the cafe latte jacket",
        "is the tent good for a fiesta", "where is the ma and pa shop",
        "my name is Jos\u00e9 Garc\u00eda", "do you ship to S\u00e3o Paulo?",
        "\U0001f44d", "???", "",
    ],
)
def test_english_and_messages_without_words_are_read(text):
    assert check(text).supported, check(text)


@pytest.mark.parametrize("text", ["zxq vvbn plorf", "qwop blarg snee", "asdfgh jkl",
                                  "xkcdqq", "blorbo zint"])
def test_a_message_with_no_known_word_is_not_understood(text):
    found = check(text)
    assert (found.supported, found.reason) == (False, "unknown_words")


def test_foreign_words_of_the_taxonomy_phrases_are_read():
    assert check("hola", vocabulary=frozenset({"hola"})).supported
    assert check("gracias amigo", vocabulary=frozenset({"gracias", "amigo"})).supported


def test_the_taxonomy_vocabulary_counts_as_known_with_a_typo_and_in_its_forms():
    vocabulary = frozenset({"acme", "trailblazr", "klarna", "rebate"})
    assert check("trailblazr", vocabulary=vocabulary).supported
    assert check("trialblazr", vocabulary=vocabulary).supported  # one typo
    assert check("klarna", vocabulary=vocabulary).supported
    assert check("rebating", vocabulary=vocabulary).supported
    assert not check("trailblazr").supported


@pytest.mark.parametrize("letter", ["a", "Z", "\u00e9", "\u0161"])
def test_latin_letters(letter):
    assert script_of(letter) == "Latin"


def test_language_names_read_naturally():
    assert names(["en"]) == "English"
    assert names(["en", "fr"]) == "English and French"
    assert names(["en", "es", "de"]) == "English, Spanish and German"
    assert names([]) == "English"


def test_the_reply_names_the_desk_languages_and_offers_a_person():
    text = reply(LanguageCheck(language="ar", script="Arabic", supported=False,
                               reason="script"), ["en"])
    assert "English" in text and "person" in text
    both = reply(LanguageCheck(reason="language", supported=False), ["en", "fr"])
    assert "English and French" in both
    unknown = reply(LanguageCheck(reason="unknown_words", supported=False), ["en"])
    assert "didn't understand" in unknown and "English" in unknown


def test_the_trace_records_language_and_script():
    found = check("\u0645\u0648\u0638\u0641").to_dict()
    assert found["language"] == "ar" and found["script"] == "Arabic"
    assert found["supported"] is False and found["reason"] == "script"


def test_prepare_loads_the_word_lists_once():
    from chat.bot import language

    language.prepare()
    language.prepare()
    assert check("where is my order").supported
