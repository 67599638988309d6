"""A job's bytes: what encode() writes decodes by its fast path, and every other body
decodes exactly as JSON would read it (or is refused the same way)."""

import json

import pytest

from campaign_dispatch.queue import Job
from campaign_dispatch.queue.base import MAX_ATTEMPT, MAX_MESSAGE_ID


@pytest.mark.parametrize(
    "job", [Job(1, 0), Job(42, 3), Job(MAX_MESSAGE_ID, MAX_ATTEMPT), Job(10**18, 10)]
)
def test_what_encode_writes_decodes_to_the_same_job(job):
    body = job.encode()
    assert json.loads(body) == {"outbound_message_id": job.message_id, "attempt": job.attempt}
    assert Job.decode(body) == job


@pytest.mark.parametrize(
    ("body", "job"),
    [
        (b'{"attempt": 2, "outbound_message_id": 7}', Job(7, 2)),  # another order
        (b'{"outbound_message_id":7}', Job(7, 0)),  # no attempt, no spaces
        (b' {"outbound_message_id": 7, "attempt": 1} ', Job(7, 1)),
    ],
)
def test_other_spellings_of_a_job_decode_as_json_reads_them(body, job):
    assert Job.decode(body) == job


@pytest.mark.parametrize(
    "body",
    [
        b'{"outbound_message_id": 0, "attempt": 0}',  # ids start at 1
        b'{"outbound_message_id": 007, "attempt": 0}',  # not JSON
        b'{"outbound_message_id": 7, "attempt": 01}',  # not JSON
        b'{"outbound_message_id": %d, "attempt": 0}' % (MAX_MESSAGE_ID + 1),  # past BIGINT
        b'{"outbound_message_id": 9999999999999999999, "attempt": 0}',  # 19 digits, too big
        b'{"outbound_message_id": 7, "attempt": %d}' % (MAX_ATTEMPT + 1),
        b'{"outbound_message_id": 7, "attempt": 0}x',
        b'{"outbound_message_id": 7, "attempt": -1}',
        b'{"outbound_message_id": true, "attempt": 0}',
        b'{"outbound_message_id": 7.0, "attempt": 0}',
    ],
)
def test_a_body_that_is_no_job_is_refused(body):
    with pytest.raises(ValueError, match="not a job"):
        Job.decode(body)
