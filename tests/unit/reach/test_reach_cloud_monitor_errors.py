"""The cloud layer's reading of CloudMonitor answers: in-body refusals and the RAM action."""

from __future__ import annotations

import pytest

from rollsafe.domain import errors
from rollsafe.reach.clouds import aliyun


def _answer(body: dict[str, object]) -> aliyun.ApiResult:
    return aliyun.ApiResult(action="DescribeMetricLast", request_id="REQ-1", body=body)


def test_a_successful_answer_passes_through_unchanged() -> None:
    result = _answer({"Success": True, "Code": "200", "Datapoints": "[]"})
    assert aliyun.refused_in_body(result) is result


@pytest.mark.parametrize(
    ("code", "temporary", "words"),
    [
        ("403", False, "was refused: 403: no (the RAM identity needs cms:DescribeMetricLast)"),
        ("401", False, "was refused: 401: no (the RAM identity needs cms:DescribeMetricLast)"),
        ("429", True, "DescribeMetricLast failed: 429: no"),
        ("500", True, "DescribeMetricLast failed: 500: no"),
        ("InvalidParameter", False, "DescribeMetricLast failed: InvalidParameter: no"),
    ],
)
def test_an_in_body_refusal_is_a_failure_classified_by_its_code(
    code: str, temporary: bool, words: str
) -> None:
    result = aliyun.refused_in_body(_answer({"Success": False, "Code": code, "Message": "no"}))
    assert not result.ok
    assert result.code == code
    error = aliyun.translate(result, endpoint="127.0.0.1:1", product="cms")
    assert isinstance(error, errors.DriverTemporaryError) is temporary
    assert words in str(error)


def test_ecs_refusals_still_name_the_ecs_action() -> None:
    refused = aliyun.ApiResult(
        action="StopInstance", code="Forbidden.RAM", message="no", status=403
    )
    assert "(the RAM identity needs ecs:StopInstance)" in str(
        aliyun.translate(refused, endpoint="127.0.0.1:1")
    )


def test_an_unknown_product_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match="no Alibaba Cloud product 'sls'"):
        aliyun.Client(region_id="cn-hangzhou", endpoint=None, product="sls")
