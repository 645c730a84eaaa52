"""Each KPI is declared once; the rollup keeps what the declarations read."""

from analytics import rollup
from analytics.measures import KPIS, Cohort, Events, Percentile, ratio
from analytics.rollup import COHORT_COUNTS


def test_the_rollup_keeps_every_input_a_kpi_declares():
    for kpi in KPIS:
        assert kpi.inputs, kpi.key
        for item in kpi.inputs:
            if isinstance(item, Cohort):
                assert item.column in COHORT_COUNTS, (kpi.key, item)
            elif isinstance(item, Events):
                assert item.name in rollup.COUNTED_EVENTS, (kpi.key, item)
            else:
                assert isinstance(item, Percentile)
                assert item.metric in rollup.TIMED_METRICS, (kpi.key, item)


def test_a_formula_takes_its_inputs_in_the_declared_order():
    by_key = {kpi.key: kpi for kpi in KPIS}
    values = {Cohort("contained_confirmed"): 3, Cohort("contained_assumed"): 1,
              Cohort("conversations"): 8}
    assert by_key["bot_resolution_rate"].compute(values.get) == 0.5
    assert by_key["bot_resolution_confirmed_rate"].compute(values.get) == 3 / 8
    assert ratio(1, 0) is None
