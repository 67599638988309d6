"""Loaded by the service processes the fault tests start (their PYTHONPATH has this
directory): when FAULTS_SEND_LOG_DIR is set, every call to the mock provider
(`MockSender.send`) appends one line `<message id> <outcome>` to
`$FAULTS_SEND_LOG_DIR/sends-<pid>.log`, so the tests can count from outside the process
what the provider was asked and what it took. Nothing under src/ changes.

A call also writes `<message id> S` when it starts, so that a test can tell a process
with provider calls in flight (and so claims in hand) from one between two batches.

Outcomes, read from the mock's own counters: `D` delivered, `P` a repeat the mock had
already delivered (accepted without a second delivery), `F` a failed attempt
(a retryable answer), `X` the call raised anything else or was cancelled. Each line is one
unbuffered write(2) on an O_APPEND descriptor, made right after the mock decided (with
no await in between): a line that was written survives a SIGKILL of the process.
"""

import os

_DIRECTORY = os.environ.get("FAULTS_SEND_LOG_DIR")


def _install(directory: str) -> None:
    from typing import Any

    from campaign_dispatch.providers.mock import MockSender

    original = MockSender.send
    path = os.path.join(directory, f"sends-{os.getpid()}.log")
    descriptor: list[int] = []

    def record(message_id: int, outcome: str) -> None:
        if not descriptor:
            descriptor.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
        os.write(descriptor[0], f"{message_id} {outcome}\n".encode())

    async def send(self: MockSender, request: Any) -> Any:
        delivered = self.delivered
        record(request.message_id, "S")
        try:
            answer = await original(self, request)
        except BaseException:
            record(request.message_id, "X")
            raise
        if answer.provider_message_id is None:
            record(request.message_id, "F")
        else:
            record(request.message_id, "D" if self.delivered > delivered else "P")
        return answer

    MockSender.send = send  # type: ignore[method-assign]


if _DIRECTORY:
    _install(_DIRECTORY)
