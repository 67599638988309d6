import random


def backoff_seconds(
    retry_number: int, base_delay_ms: int, rng: random.Random | None = None
) -> float:
    """Delay before retry n (1-based): base * 2^(n-1), jittered into its upper half.

    The jitter spreads a burst of failures so their retries don't arrive as one burst;
    keeping the lower bound at half the nominal delay keeps the backoff meaningful.
    """
    if retry_number < 1:
        raise ValueError("retry_number starts at 1")
    nominal = base_delay_ms * (1 << (retry_number - 1)) / 1000
    fraction = rng.random() if rng is not None else random.random()
    return nominal * (0.5 + 0.5 * fraction)
