"""Lift: the log relative risk interval worked by hand, and "too few to say" below 30 households or 5 converters."""
import math

import pytest

from services.sponsorship.attribution.lift import lift


def test_lift_with_enough_households_has_a_delta_method_interval():
    # 20 of 100 exposed against 20 of 200 control: RR = 0.2 / 0.1 = 2, lift +100%.
    # se(ln RR) = sqrt(1/20 - 1/100 + 1/20 - 1/200) = sqrt(0.085) = 0.29155
    # 95%: exp(ln 2 -+ 1.96 * 0.29155) - 1 = 2 / 1.7708 - 1 = 0.1294 .. 2 * 1.7708 - 1 = 2.5416
    result = lift(100, 20, 200, 20)
    assert result.enough_data and result.lift == pytest.approx(1.0)
    assert (result.exposed_rate, result.control_rate) == pytest.approx((0.2, 0.1))
    se = math.sqrt(0.085)
    assert result.ci_low == pytest.approx(2 * math.exp(-1.959964 * se) - 1, abs=1e-6)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.1294, 2.5416), abs=1e-3)
    assert "+100%" in result.message


@pytest.mark.parametrize("counts", [(29, 10, 200, 20), (100, 4, 200, 20), (100, 20, 29, 10), (100, 20, 200, 4)])
def test_too_few_households_or_converters_give_no_number(counts):
    result = lift(*counts)
    assert not result.enough_data
    assert result.lift is None and result.ci_low is None and result.ci_high is None
    assert result.message.startswith("too few to say")
    assert result.exposed_households == counts[0] and result.control_converters == counts[3]
